"""The stream scenario's subscribers read their events as the chunks arrive."""

from bench.streams import Lines


def test_lines_come_whole_whatever_the_chunks():
    lines = Lines()
    assert lines.feed(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n") == [
        b"HTTP/1.1 200 OK\r",
        b"Content-Type: text/event-stream\r",
    ]
    assert lines.feed(b"\r\nevent: price\nid: 17") == [b"\r", b"event: price"]
    assert lines.feed(b"33") == []
    assert lines.feed(b"\ndata: {}\n\n") == [b"id: 1733", b"data: {}", b""]

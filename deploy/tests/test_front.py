"""The front (nginx, deploy/nginx.conf.template) in front of the real API and stream servers:
every refusal is PriceHub's JSON error, the app's own answers pass as they are, the stream
flows event by event, the streams of each client and in all are limited, and the refresh
throttle knows each client by its own address."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from aggregation.tests import stack
from deploy.services import ROOT, free_port, front_command, wait_for_port

HEAD = b"Host: 127.0.0.1\r\nConnection: close\r\n"


@pytest.fixture(scope="module")
def environment(stack_environment) -> dict[str, str]:
    env = stack_environment(redis_db=10, table="prices-front", interval=60)
    # As under `make run`: the front appends each client's address to X-Forwarded-For.
    return dict(env, NUM_PROXIES="1")


@pytest.fixture(scope="module")
def front(environment, tmp_path_factory) -> Iterator[str]:
    with stack.front(environment, tmp_path_factory.mktemp("front")) as url:
        yield url


@pytest.fixture(scope="module")
def limited_front(environment, tmp_path_factory) -> Iterator[str]:
    """A front that takes 2 streams from a client and 4 in all, and each client's address from
    X-Real-IP."""
    env = dict(environment, FRONT_STREAMS_PER_CLIENT="2", FRONT_STREAMS_TOTAL="4")
    directory = tmp_path_factory.mktemp("limited-front")
    with stack.front(env, directory, client_header="X-Real-IP") as url:
        yield url


def exchange(url: str, raw: bytes, tries: int = 3) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes as a request; return the answer's status, headers and body.

    A front that refuses a request before reading all of it closes with bytes unread, and the
    client's TCP may see a reset before the answer: then the request is sent again.
    """
    parts = urlsplit(url)
    for attempt in range(tries):
        answer = b""
        try:
            with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
                sock.sendall(raw)
                while chunk := sock.recv(65536):
                    answer += chunk
            break
        except ConnectionResetError:
            if answer or attempt == tries - 1:
                raise
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, _, value in (ln.partition(": ") for ln in lines)}
    return int(status_line.split()[1]), headers, body


def request(line: bytes, *headers: bytes) -> bytes:
    return line + b"\r\n" + b"".join(header + b"\r\n" for header in headers) + HEAD + b"\r\n"


MANY_HEADERS = [b"X-%d: 1" % n for n in range(150)]


@pytest.mark.parametrize(
    ("raw", "status", "error"),
    [
        (b"GARBAGE\r\n\r\n", 400, "bad_request"),
        (request(b"GET /prices/BTCUSDT HTTP/1.1", b"No colon"), 400, "bad_request"),
        (request(b"GET /prices/BTCUSDT HTTP/1.1", b"Content-Length: x"), 400, "bad_request"),
        (request(b"GET /prices?assets=" + b"A" * 70_000 + b" HTTP/1.1"), 414, "uri_too_long"),
        (request(b"GET / HTTP/1.1", b"X-Big: " + b"a" * 40_000), 431, "headers_too_large"),
        # Under nginx's limits, over Granian's (100 headers): Granian's refusal, made JSON.
        (request(b"GET / HTTP/1.1", *MANY_HEADERS), 431, "headers_too_large"),
        (request(b"TRACE / HTTP/1.1"), 405, "method_not_allowed"),
        (request(b"POST /refresh/BTCUSDT HTTP/1.1", b"Content-Length: 2000000"), 413,
         "request_too_large"),
        (request(b"POST /refresh/BTCUSDT HTTP/1.1", b"Transfer-Encoding: gzip"), 501,
         "not_implemented"),
        (request(b"GET /_error/503 HTTP/1.1"), 404, "not_found"),
    ],
    ids=["garbage", "header-line", "length", "uri", "header", "headers", "trace", "body",
         "encoding", "internal"],
)  # fmt: skip
def test_every_refusal_of_the_front_is_a_json_error(front, raw, status, error):
    answer_status, headers, body = exchange(front, raw)
    assert (answer_status, headers["content-type"]) == (status, "application/json")
    document = json.loads(body)
    assert document["error"] == error
    assert document["detail"].endswith(".")


def test_the_apps_own_answers_and_errors_pass_as_they_are(front):
    price = requests.get(f"{front}/prices/NOPEUSDT", timeout=10)
    assert (price.status_code, price.json()["error"]) == (404, "unknown_asset")
    symbol = requests.get(f"{front}/prices/BTC$", timeout=10)
    assert (symbol.status_code, symbol.json()["error"]) == (400, "invalid_asset")
    host = requests.get(f"{front}/prices/BTCUSDT", headers={"Host": "evil.example"}, timeout=10)
    assert (host.status_code, host.json()["error"]) == (400, "bad_request")
    page = requests.get(f"{front}/", timeout=10)
    assert page.status_code == 200
    assert "PriceHub" in page.text


def test_a_server_down_behind_the_front_is_a_json_503(tmp_path: Path):
    port, down = free_port(), f"127.0.0.1:{free_port()}"
    command = front_command(f"127.0.0.1:{port}", down, down, tmp_path)
    with stack.running([(command, dict(os.environ))]):
        wait_for_port(port)
        for path in ("/prices/BTCUSDT", "/stream?assets=BTCUSDT"):
            answer = requests.get(f"http://127.0.0.1:{port}{path}", timeout=10)
            assert (answer.status_code, answer.json()["error"]) == (503, "unavailable")


def refresh(environment) -> None:
    command = [sys.executable, "manage.py", "refresh", "BTCUSDT"]
    subprocess.run(command, env=environment, cwd=ROOT, check=True, capture_output=True)


def test_the_stream_passes_each_event_as_it_comes(front, environment):
    refresh(environment)
    with requests.get(f"{front}/stream?assets=BTCUSDT", stream=True, timeout=10) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        ids = (line for line in answer.iter_lines() if line.startswith(b"id: "))
        first = next(ids)
        refresh(environment)
        # Arrives while the stream is open: nothing waits for a buffer to fill.
        assert int(next(ids)[4:]) > int(first[4:])


def test_the_refresh_throttle_knows_each_client_by_its_own_address(front, environment):
    # A client that writes X-Forwarded-For itself still counts as itself: the front appends
    # the address it saw, and the throttle takes that one.
    statuses = [
        requests.post(
            f"{front}/refresh/BTCUSDT", headers={"X-Forwarded-For": f"10.0.0.{n}"}, timeout=30
        ).status_code
        for n in range(11)
    ]
    assert statuses == [200] * 10 + [429]


def stream_request(client: str) -> bytes:
    """Return GET /stream of BTCUSDT from client: X-Real-IP, which only limited_front reads."""
    headers = [b"X-Real-IP: " + client.encode()] if client else []
    return request(b"GET /stream?assets=BTCUSDT HTTP/1.1", *headers)


def open_stream(url: str, streams: ExitStack, client: str = "") -> int:
    """Start a stream from client, kept open until streams closes; return its status."""
    parts = urlsplit(url)
    sock = streams.enter_context(socket.create_connection((parts.hostname, parts.port), 10))
    sock.sendall(stream_request(client))
    head = b""
    while b"\r\n\r\n" not in head and (chunk := sock.recv(65536)):
        head += chunk
    return int(head.split()[1])


def assert_too_many_streams(url: str, client: str = "") -> None:
    status, headers, body = exchange(url, stream_request(client))
    assert (status, headers["content-type"]) == (429, "application/json")
    assert json.loads(body) == {
        "error": "too_many_streams",
        "detail": "Too many streams are open, from this address or in all; close one or try "
        "again later.",
    }


def test_a_client_holds_20_streams_and_the_21st_is_a_json_429_until_one_closes(front):
    with ExitStack() as streams, ExitStack() as first:
        assert open_stream(front, first) == 200
        assert [open_stream(front, streams) for _ in range(19)] == [200] * 19
        assert_too_many_streams(front)
        first.close()
        # nginx counts a stream out once it sees its client gone, a moment after the close.
        deadline = time.monotonic() + 5
        while (status := open_stream(front, streams)) == 429 and time.monotonic() < deadline:
            pass
        assert status == 200


def test_an_ipv6_client_is_its_64(limited_front):
    clients = ("2001:db8::1", "2001:db8::ffff:0:1", "2001:db8:0:1::1")
    with ExitStack() as streams:
        assert [open_stream(limited_front, streams, client) for client in clients] == [200] * 3
        assert_too_many_streams(limited_front, "2001:db8::2")


def test_an_ipv4_mapped_address_is_a_client_of_its_own_not_of_a_64(limited_front):
    clients = ("::ffff:192.0.2.1", "::ffff:192.0.2.2", "::ffff:192.0.2.2", "::ffff:192.0.2.1")
    with ExitStack() as streams:
        assert [open_stream(limited_front, streams, client) for client in clients] == [200] * 4


def test_the_front_refuses_a_stream_past_its_total_as_a_json_429(limited_front):
    clients = ("192.0.2.1", "192.0.2.1", "192.0.2.2", "2001:db8::1")
    with ExitStack() as streams:
        assert [open_stream(limited_front, streams, client) for client in clients] == [200] * 4
        assert_too_many_streams(limited_front, "192.0.2.3")

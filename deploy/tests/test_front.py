"""The front (nginx, deploy/nginx.conf.template) in front of the real API and stream servers:
every refusal is PriceHub's JSON error, the app's own answers pass as they are, the stream
flows event by event, the streams of each client and in all are limited, and the refresh
throttle knows each client by its own address. It keeps the inside in: the metrics and
readiness are not found, the admin answers the networks listed only, the scheme the app is told
is the front's own; and it logs each request as JSON."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from aggregation.tests import stack
from deploy.services import ROOT, free_port, front_command

HEAD = b"Host: 127.0.0.1\r\nConnection: close\r\n"


@pytest.fixture(scope="module")
def environment(stack_environment) -> dict[str, str]:
    env = stack_environment(redis_db=10, table="prices-front", interval=60)
    # As under `make run`: the front appends each client's address to X-Forwarded-For. On a
    # host whose zone is not UTC, the access log's times still are.
    return dict(env, NUM_PROXIES="1", TZ="Asia/Tokyo")


@pytest.fixture(scope="module")
def front_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("front")


@pytest.fixture(scope="module")
def front(environment, front_dir) -> Iterator[str]:
    with stack.front(environment, front_dir) as url:
        yield url


@pytest.fixture(scope="module")
def limited_front(environment, tmp_path_factory) -> Iterator[str]:
    """A front that takes 2 streams from a client and 4 in all, behind a proxy on 127.0.0.1
    (each test's requests), which names each client in X-Forwarded-For: a test cannot own the
    many addresses it plays."""
    limits = {"FRONT_STREAMS_PER_CLIENT": "2", "FRONT_STREAMS_TOTAL": "4"}
    env = dict(environment, **limits, FRONT_TRUSTED_PROXY="127.0.0.1")
    directory = tmp_path_factory.mktemp("limited-front")
    with stack.front(env, directory) as url:
        yield url


def exchange(url: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes as a request; return the answer's status, headers and body, read up to
    its Content-Length (or the connection's end): a refusal's connection may stay open for
    nginx's lingering close, 5 s, waiting for a body the request never sends."""
    parts = urlsplit(url)
    answer = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(raw)
        while chunk := sock.recv(65536):
            answer += chunk
            head, found, body = answer.partition(b"\r\n\r\n")
            length = found and _CONTENT_LENGTH.search(head)
            if length and len(body) >= int(length[1]):
                break
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, _, value in (ln.partition(": ") for ln in lines)}
    return int(status_line.split()[1]), headers, body


_CONTENT_LENGTH = re.compile(rb"^content-length: *(\d+)\r?$", re.IGNORECASE | re.MULTILINE)


def request(line: bytes, *headers: bytes) -> bytes:
    return line + b"\r\n" + b"".join(header + b"\r\n" for header in headers) + HEAD + b"\r\n"


MANY_HEADERS = [b"X-%d: 1" % n for n in range(150)]
LONG_URI = request(b"GET /prices?assets=" + b"A" * 70_000 + b" HTTP/1.1")
BIG_HEADER = request(b"GET / HTTP/1.1", b"X-Big: " + b"a" * 40_000)


@pytest.mark.parametrize(
    ("raw", "status", "error"),
    [
        (b"GARBAGE\r\n\r\n", 400, "bad_request"),
        (request(b"GET /prices/BTCUSDT HTTP/1.1", b"No colon"), 400, "bad_request"),
        (request(b"GET /prices/BTCUSDT HTTP/1.1", b"Content-Length: x"), 400, "bad_request"),
        (LONG_URI, 414, "uri_too_long"),
        (BIG_HEADER, 431, "headers_too_large"),
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


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (LONG_URI, 414),
        (BIG_HEADER, 431),
        (request(b"POST /refresh/BTCUSDT HTTP/1.1", b"Content-Length: 2000000") + b"x" * 2_000_000,
         413),
    ],
    ids=["uri", "header", "body"],
)  # fmt: skip
def test_a_refusal_sent_before_the_request_was_read_reaches_the_client(front, raw, status):
    # The front closes a refused request's connection while the client still sends it. Unless it
    # reads the rest first (lingering_close), the client's TCP may see a reset before the answer:
    # without it, about one long URI in twelve here.
    statuses = Counter(exchange(front, raw)[0] for _ in range(200))
    assert statuses == {status: 200}


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
    down = f"127.0.0.1:{free_port()}"
    with stack.serving(
        lambda port: front_command(f"127.0.0.1:{port}", down, down, tmp_path)
    ) as front:
        for path in ("/prices/BTCUSDT", "/stream?assets=BTCUSDT"):
            answer = requests.get(f"{front.url}{path}", timeout=10)
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


def test_the_metrics_and_readiness_are_not_found_through_the_front(front):
    unknown = requests.get(f"{front}/no-such-path", timeout=10)
    assert unknown.status_code == 404
    for path in ("/metrics", "/readyz", "/metrics?format=text", "//metrics", "/%72eadyz"):
        answer = requests.get(f"{front}{path}", timeout=10)
        assert (path, answer.status_code) == (path, 404)
        assert (answer.headers["content-type"], answer.json()) == (
            "application/json",
            unknown.json(),
        )
    assert requests.get(f"{front}/healthz", timeout=10).json() == {"status": "ok"}


@contextmanager
def front_before(web: str, directory: Path, **lists: str) -> Iterator[str]:
    """Run a front alone before web (host:port), with the FRONT_ lists given (FRONT_ADMIN_ALLOW,
    FRONT_TRUSTED_PROXY); yield its URL."""
    with stack.serving(
        lambda port: front_command(f"127.0.0.1:{port}", web, web, directory, lists)
    ) as front:
        yield front.url


def test_the_admin_refuses_an_address_outside_front_admin_allow(tmp_path: Path):
    down = f"127.0.0.1:{free_port()}"  # a request let through finds nothing behind: a 503
    with front_before(down, tmp_path / "closed", FRONT_ADMIN_ALLOW="10.0.0.0/8") as closed:
        answer = requests.get(f"{closed}/admin/login/", timeout=10)
        assert (answer.status_code, answer.json()) == (
            403,
            {"error": "forbidden", "detail": "Not allowed."},
        )
        assert requests.get(f"{closed}/prices/BTCUSDT", timeout=10).status_code == 503
    with front_before(
        down, tmp_path / "listed", FRONT_ADMIN_ALLOW="10.0.0.0/8, 127.0.0.0/8"
    ) as open_:
        assert requests.get(f"{open_}/admin/login/", timeout=10).status_code == 503


class Echo(BaseHTTPRequestHandler):
    """Answer every GET with the headers it came with, as JSON."""

    def do_GET(self) -> None:
        body = json.dumps(dict(self.headers)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[str]:
    """Serve Echo on a loopback port; yield its host:port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def proto_seen(front: str, **headers: str) -> str:
    return requests.get(f"{front}/prices/BTCUSDT", headers=headers, timeout=10).json()[
        "X-Forwarded-Proto"
    ]


def test_behind_a_trusted_proxy_the_admin_allow_list_sees_the_client_it_names(tmp_path: Path):
    down = f"127.0.0.1:{free_port()}"  # a request let through finds nothing behind: a 503
    inside, outside = {"X-Forwarded-For": "10.1.2.3"}, {"X-Forwarded-For": "10.1.2.3, 192.0.2.1"}
    lists = {"FRONT_ADMIN_ALLOW": "10.0.0.0/8", "FRONT_TRUSTED_PROXY": "127.0.0.1"}
    with front_before(down, tmp_path / "proxied", **lists) as front:
        assert requests.get(f"{front}/admin/login/", headers=inside, timeout=10).status_code == 503
        # The client the proxy saw is the last address, whatever a client wrote before it.
        assert requests.get(f"{front}/admin/login/", headers=outside, timeout=10).status_code == 403
        log = tmp_path / "proxied" / "access.log"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(lines := log_lines(log)) < 2:
            time.sleep(0.1)
        # Each nginx worker writes its own buffer: the lines come in no set order.
        assert sorted(line["remote_addr"] for line in lines) == ["10.1.2.3", "192.0.2.1"]
    # A client's own X-Forwarded-For is never believed.
    with front_before(down, tmp_path / "direct", FRONT_ADMIN_ALLOW="10.0.0.0/8") as front:
        assert requests.get(f"{front}/admin/login/", headers=inside, timeout=10).status_code == 403


def log_lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_the_app_is_told_the_fronts_scheme_never_the_clients(echo, tmp_path: Path):
    with front_before(echo, tmp_path) as front:
        assert proto_seen(front, **{"X-Forwarded-Proto": "https"}) == "http"
        assert proto_seen(front) == "http"


def test_a_trusted_proxy_in_front_tells_the_scheme(echo, tmp_path: Path):
    with front_before(echo, tmp_path, FRONT_TRUSTED_PROXY="127.0.0.1") as front:
        assert proto_seen(front, **{"X-Forwarded-Proto": "https"}) == "https"
        # The proxy is known by its connection, whichever client it names.
        named = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.9"}
        assert proto_seen(front, **named) == "https"
        assert proto_seen(front, **{"X-Forwarded-Proto": "gopher"}) == "http"
    with front_before(echo, tmp_path / "other", FRONT_TRUSTED_PROXY="192.0.2.7") as front:
        assert proto_seen(front, **{"X-Forwarded-Proto": "https"}) == "http"


def test_the_front_logs_each_request_as_a_line_of_json(front, front_dir):
    path = f"/prices/NOPEUSDT?n={time.monotonic_ns()}"
    requests.get(f"{front}{path}", headers={"User-Agent": 'probe "1"'}, timeout=10)
    log = front_dir / "access.log"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [line for line in log_lines(log) if line["path"] == path]
        if found:
            break
        time.sleep(0.1)
    (line,) = found
    assert set(line) == {
        "time", "remote_addr", "method", "path", "status", "bytes", "request_seconds",
        "upstream_seconds", "user_agent",
    }  # fmt: skip
    assert (line["remote_addr"], line["method"], line["status"]) == ("127.0.0.1", "GET", 404)
    assert line["user_agent"] == 'probe "1"'
    assert line["time"].endswith("+00:00")
    assert line["bytes"] > 0
    assert float(line["upstream_seconds"]) >= 0 <= line["request_seconds"]


def stream_request(client: str) -> bytes:
    """Return GET /stream of BTCUSDT from client, as a proxy names it (X-Forwarded-For), which
    only limited_front believes."""
    headers = [b"X-Forwarded-For: 198.51.100.9, " + client.encode()] if client else []
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

"""`make bench`'s stream scenario: 1,000 subscribers to a hot asset's Server-Sent Events,
connected while the read scenarios run, then measured alone for a quiet window.

The subscribers read GET /stream?assets=BTCUSDT through the front over plain sockets,
all in one event loop of a thread of their own; beside them the bench listens to the Redis
channel the refreshes announce on, which says what was published and when. A publish counts as
delivered to a subscriber when its event (same id) arrived; the delay is from the channel's
message to the event's arrival.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import cast

import redis

from aggregation import codec

SUBSCRIBERS = int(os.environ.get("BENCH_STREAM_SUBSCRIBERS", "1000"))
SECONDS = float(os.environ.get("BENCH_STREAM_SECONDS", "20"))
HOST, PORT = "127.0.0.1", 8080  # the front, which passes /stream to the stream server
ASSET = "BTCUSDT"
# The stream channel (common.redis_store.keys), with the default cache key prefix and version.
CHANNEL = "pricehub:1:stream"
TARGET_P95_MS = 200.0
_CONNECT_SECONDS = 60.0
_IN_FLIGHT_SECONDS = 1.0  # after the last publish counted, for its events to arrive


@dataclass
class Streamed:
    """What the stream scenario measured."""

    subscribers: int
    connected: int = 0  # answered 200
    counting: bool = False  # events are recorded from the first publish listened to
    published: dict[int, float] = field(default_factory=dict)  # id -> when announced
    received: list[dict[int, float]] = field(default_factory=list)  # per subscriber
    listened: float = 0.0  # seconds the channel was listened to
    quiet: tuple[float, float] = (math.inf, math.inf)  # the window with no read load

    def delays_ms(self, *, quiet: bool) -> list[float]:
        start, end = self.quiet
        return sorted(
            (seen[at] - announced) * 1000
            for at, announced in self.published.items()
            if (start <= announced <= end) == quiet
            for seen in self.received
            if at in seen
        )

    def missed(self) -> int:
        return sum(at not in seen for seen in self.received for at in self.published)

    def line(self) -> str:
        quiet, loaded = self.delays_ms(quiet=True), self.delays_ms(quiet=False)
        return (
            f"stream: {self.connected}/{self.subscribers} subscribers to {ASSET}, connected"
            f" through the read scenarios and the gaps ({self.listened:.0f} s):"
            f" {len(self.published)} publishes, {len(quiet) + len(loaded)} events delivered,"
            f" {self.missed()} missed; delay in a {SECONDS:g} s window without read load"
            f" p50 {_quantile(quiet, 0.5):.1f} ms, p95 {_quantile(quiet, 0.95):.1f} ms,"
            f" max {quiet[-1] if quiet else math.nan:.1f} ms; under the read scenarios' load"
            f" p50 {_quantile(loaded, 0.5):.1f} ms, p95 {_quantile(loaded, 0.95):.1f} ms"
        )

    def marks(self) -> list[str]:
        p95 = _quantile(self.delays_ms(quiet=True), 0.95)
        whole = self.connected == self.subscribers and bool(self.published) and not self.missed()
        return [
            f"{'PASS' if whole else 'MISS'}  stream: every publish delivered to each of"
            f" {self.subscribers} subscribers ({self.missed()} missed)",
            f"{'PASS' if p95 <= TARGET_P95_MS else 'MISS'}  stream: p95 delay {p95:.1f} ms"
            f" <= {TARGET_P95_MS:g} ms",
        ]

    def quiet_window(self) -> None:
        """Let SECONDS pass with no other load: the window the delay target is read in."""
        start = time.monotonic()
        time.sleep(SECONDS)
        self.quiet = (start, time.monotonic())


@contextmanager
def subscribed() -> Iterator[Streamed]:
    """Connect SUBSCRIBERS clients and listen to the channel until the block ends; count what
    reached whom."""
    result = Streamed(SUBSCRIBERS)
    result.received = [{} for _ in range(SUBSCRIBERS)]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="subscribers", daemon=True)
    thread.start()
    transports = asyncio.run_coroutine_threadsafe(_connect(result), loop).result()
    stop = threading.Event()
    listener = threading.Thread(target=_listen, args=(result, stop), name="channel")
    listener.start()
    try:
        yield result
    finally:
        stop.set()
        listener.join()
        time.sleep(_IN_FLIGHT_SECONDS)
        asyncio.run_coroutine_threadsafe(_close(transports), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def _connect(result: Streamed) -> list[asyncio.Transport]:
    loop = asyncio.get_running_loop()
    transports: list[asyncio.Transport] = []  # every connection made, answered or not yet

    async def subscribe(seen: dict[int, float]) -> None:
        try:
            transport, subscriber = await loop.create_connection(
                lambda: _Subscriber(seen, result), HOST, PORT
            )
            transports.append(transport)
            answered = await subscriber.answered
        except OSError:
            answered = False
        result.connected += answered

    tasks = [asyncio.create_task(subscribe(seen)) for seen in result.received]
    # Those not in by then count as not connected; they end when their connections close.
    await asyncio.wait(tasks, timeout=_CONNECT_SECONDS)
    return transports


async def _close(transports: list[asyncio.Transport]) -> None:
    for transport in transports:
        transport.close()


class _Subscriber(asyncio.Protocol):
    """One subscriber's connection, read as it arrives: a protocol rather than a stream reader
    and a coroutine a line, so that the 1,000 of them take as little as they can of the CPU
    the stack they measure shares."""

    def __init__(self, seen: dict[int, float], result: Streamed) -> None:
        self.lines = Lines()
        self.seen, self.result = seen, result
        self.answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        request = f"GET /stream?assets={ASSET} HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n"
        request += "Accept: text/event-stream\r\n\r\n"
        cast(asyncio.Transport, transport).write(request.encode())

    def data_received(self, data: bytes) -> None:
        arrived = time.monotonic()
        for line in self.lines.feed(data):
            if not self.answered.done():
                self.answered.set_result(b" 200 " in line)
            elif line.startswith(b"id: ") and self.result.counting:
                self.seen.setdefault(int(line[4:]), arrived)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answered.done():
            self.answered.set_result(False)


class Lines:
    """Complete lines out of a connection's chunks, as they arrive."""

    def __init__(self) -> None:
        self.partial = b""

    def feed(self, data: bytes) -> list[bytes]:
        *lines, self.partial = (self.partial + data).split(b"\n")
        return lines


def _listen(result: Streamed, stop: threading.Event) -> None:
    # The ground truth: every BTCUSDT publish on the channel, timed as it arrives here.
    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    started = time.monotonic()
    with client.pubsub() as pubsub:
        pubsub.subscribe(CHANNEL)
        result.counting = True
        while not stop.is_set():
            message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is None:
                continue
            published = codec.decode_published(message["data"])
            if published.asset == ASSET:
                result.published[published.aggregated_ms] = time.monotonic()
    result.listened = time.monotonic() - started


def _quantile(ordered: list[float], share: float) -> float:
    return ordered[math.ceil(share * len(ordered)) - 1] if ordered else math.nan

"""`make bench`'s stream scenario: 1,000 subscribers to a hot asset's Server-Sent Events.

The subscribers read GET /stream?assets=BTCUSDT from the stream server over plain sockets,
all in one event loop; beside them the bench listens to the Redis channel the refreshes
announce on, which says what was published and when. A publish counts as delivered to a
subscriber when its event (same id) arrived; the delay is from the channel's message to the
event's arrival.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from dataclasses import dataclass, field

import redis

SUBSCRIBERS = int(os.environ.get("BENCH_STREAM_SUBSCRIBERS", "1000"))
SECONDS = float(os.environ.get("BENCH_STREAM_SECONDS", "20"))
HOST, PORT = "127.0.0.1", 8090
ASSET = "BTCUSDT"
# The channel of price_cache.stream_channel(), with the default cache key prefix and version.
CHANNEL = "pricehub:1:stream"
TARGET_P95_MS = 200.0


@dataclass
class Streamed:
    """What the stream scenario measured."""

    subscribers: int
    connected: int = 0  # answered 200
    settled: int = 0  # answered, refused or failed
    published: dict[int, float] = field(default_factory=dict)  # id -> when announced
    received: list[dict[int, float]] = field(default_factory=list)  # per subscriber

    def delays_ms(self) -> list[float]:
        return sorted(
            (seen[at] - self.published[at]) * 1000
            for seen in self.received
            for at in self.published
            if at in seen
        )

    def missed(self) -> int:
        return sum(at not in seen for seen in self.received for at in self.published)

    def line(self) -> str:
        delays = self.delays_ms()
        p95 = _quantile(delays, 0.95)
        return (
            f"stream: {self.connected}/{self.subscribers} subscribers to {ASSET} for {SECONDS:g} s,"
            f" {len(self.published)} publishes, {len(delays)} events delivered, {self.missed()}"
            f" missed; delay p50 {_quantile(delays, 0.5):.1f} ms, p95 {p95:.1f} ms,"
            f" max {delays[-1] if delays else math.nan:.1f} ms"
        )

    def marks(self) -> list[str]:
        delays = self.delays_ms()
        p95 = _quantile(delays, 0.95)
        whole = self.connected == self.subscribers and bool(self.published) and not self.missed()
        return [
            f"{'PASS' if whole else 'MISS'}  stream: every publish delivered to each of"
            f" {self.subscribers} subscribers ({self.missed()} missed)",
            f"{'PASS' if p95 <= TARGET_P95_MS else 'MISS'}  stream: p95 delay {p95:.1f} ms"
            f" <= {TARGET_P95_MS:g} ms",
        ]


def run() -> Streamed:
    """Subscribe SUBSCRIBERS clients, listen for SECONDS, and count what reached whom."""
    return asyncio.run(_run())


async def _run() -> Streamed:
    result = Streamed(SUBSCRIBERS)
    result.received = [{} for _ in range(SUBSCRIBERS)]
    counting, settled = asyncio.Event(), asyncio.Event()
    readers = [
        asyncio.create_task(_subscribe(seen, result, counting, settled)) for seen in result.received
    ]
    with contextlib.suppress(TimeoutError):  # those not in by then count as not connected
        await asyncio.wait_for(settled.wait(), 60)
    counting.set()  # every subscriber is in: from now on the publishes count
    await asyncio.get_running_loop().run_in_executor(None, _listen, result, SECONDS)
    await asyncio.sleep(1.0)  # the last publishes' events are on their way
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    return result


async def _subscribe(
    seen: dict[int, float], result: Streamed, counting: asyncio.Event, settled: asyncio.Event
) -> None:
    try:
        reader, writer = await asyncio.open_connection(HOST, PORT, limit=2**20)
        request = f"GET /stream?assets={ASSET} HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n"
        writer.write(f"{request}Accept: text/event-stream\r\n\r\n".encode())
        await writer.drain()
        answered = b" 200 " in await reader.readline()
    except OSError:
        answered = False
    result.connected += answered
    result.settled += 1
    if result.settled == result.subscribers:
        settled.set()
    if not answered:
        return
    try:
        while line := await reader.readline():
            if line.startswith(b"id: ") and counting.is_set():
                seen.setdefault(int(line[4:]), time.monotonic())
    finally:
        writer.close()


def _listen(result: Streamed, seconds: float) -> None:
    # The ground truth: every BTCUSDT publish on the channel, timed as it arrives here.
    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    with client.pubsub() as pubsub:
        pubsub.subscribe(CHANNEL)
        ends = time.monotonic() + seconds
        while (left := ends - time.monotonic()) > 0:
            message = pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            if message is None:
                continue
            symbol, _, document = message["data"].partition(b" ")
            if symbol == ASSET.encode():
                result.published[int(document[1 : document.index(b",")])] = time.monotonic()


def _quantile(ordered: list[float], share: float) -> float:
    return ordered[math.ceil(share * len(ordered)) - 1] if ordered else math.nan

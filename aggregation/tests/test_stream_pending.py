"""A stream's events not sent yet (aggregation.api.stream.Pending): the newest of each asset."""

from __future__ import annotations

import asyncio

from aggregation.api.stream import Pending


async def waits(pending: Pending) -> bool:
    """Return whether a reader of pending would wait now: it holds no event."""
    reader = asyncio.create_task(pending.get())
    await asyncio.sleep(0)  # the reader runs until it has an event or waits
    waiting = not reader.done()
    reader.cancel()
    return waiting


def drain(pending: Pending, count: int) -> tuple[list[bytes], bool]:
    """Return the next count events of pending, and whether it held no more."""

    async def scenario() -> tuple[list[bytes], bool]:
        events = [await pending.get() for _ in range(count)]
        return events, await waits(pending)

    return asyncio.run(scenario())


def test_a_slow_reader_gets_only_the_newest_event_of_each_asset():
    pending = Pending()
    for n in range(1000):
        pending.put("BTCUSDT", b"btc %d" % n)
        pending.put("ETHUSDT", b"eth %d" % n)
    assert drain(pending, 2) == ([b"btc 999", b"eth 999"], True)


def test_an_asset_keeps_its_place_in_line_when_its_event_is_replaced():
    pending = Pending()
    pending.put("BTCUSDT", b"btc 1")
    pending.put("ETHUSDT", b"eth 1")
    pending.put("BTCUSDT", b"btc 2")
    assert drain(pending, 2) == ([b"btc 2", b"eth 1"], True)


def test_a_reader_waits_for_the_next_event_and_gets_it_once_put():
    pending = Pending()

    async def scenario() -> tuple[bool, bytes]:
        reader = asyncio.create_task(pending.get())
        await asyncio.sleep(0)
        waiting = not reader.done()
        pending.put("BTCUSDT", b"btc 1")
        return waiting, await reader

    assert asyncio.run(scenario()) == (True, b"btc 1")

"""Recording points and their candles in DynamoDB, and their recent past in Redis.

Each point is folded into its asset's candle of every interval and carries those candles: the
newest point holds its asset's latest candles. A candle is stored on its own once a later
point starts the next one, before that point is. What is written to DynamoDB is kept in Redis
(aggregation/recent.py) once DynamoDB holds it: the memo of each asset's last point, which
decides whether the next is due and what it folds into, and the lists reads are answered from.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings

from aggregation import candles, recent
from aggregation.candles import INTERVALS, Candle, fold
from aggregation.history import client, items
from aggregation.history.client import Item
from aggregation.history.reads import stored_memo
from aggregation.price import AggregatedPrice, HistoryPoint, from_epoch_ms

_ROLLUP_CHUNK = 400  # rebuilt candles written at a time: 16 calls of 25 items, at once


def is_due(
    last: HistoryPoint | None,
    price: AggregatedPrice,
    *,
    deviation_percent: float,
    heartbeat_seconds: float,
) -> bool:
    """Return True when price is newer than the last point and moved or aged enough since
    it to be recorded."""
    if last is None:
        return True
    elapsed = (price.aggregated_at - last.time).total_seconds()
    if elapsed <= 0:
        return False
    moved = abs(price.price - last.price) / last.price * 100
    return elapsed >= heartbeat_seconds or moved > Decimal(str(deviation_percent))


def record(prices: Sequence[AggregatedPrice]) -> list[AggregatedPrice]:
    """Store those of prices (one per asset) that moved or aged enough since their asset's
    last point, with their candles, in as few DynamoDB calls as they fit; return those stored.

    A price no newer than its asset's last point is never stored, so recording the same
    prices again stores nothing twice. Raise client.ERRORS when DynamoDB fails.
    """
    lasts = _lasts([price.asset for price in prices])
    due = [
        (price, last)
        for price, last in zip(prices, lasts, strict=True)
        if is_due(
            None if last.memo is None else last.memo.point,
            price,
            deviation_percent=settings.PRICEHUB_HISTORY_DEVIATION_PERCENT,
            heartbeat_seconds=settings.PRICEHUB_HISTORY_HEARTBEAT_SECONDS,
        )
    ]
    _store(due)
    return [price for price, _ in due]


def append(price: AggregatedPrice) -> None:
    """Store price as the newest point of its asset's history, with its candles."""
    _store([(price, _lasts([price.asset])[0])])


def rollup(symbol: str) -> int:
    """Rebuild symbol's candles from its stored points (for points stored without them);
    return how many candles it made."""
    latest: dict[str, Candle] = {}
    rolled = _rolled_up(symbol, latest)
    written = 0
    while batch := list(itertools.islice(rolled, _ROLLUP_CHUNK)):
        client.write([(client.candles_table(), item) for item in batch])
        written += len(batch)
    if newest := client.newest(client.points_table(), symbol, 1):
        client.client().update_item(
            TableName=client.points_table(),
            Key={"asset": newest[0]["asset"], "timestamp": newest[0]["timestamp"]},
            UpdateExpression="SET candles = :candles",
            ExpressionAttributeValues={":candles": {"S": candles.to_text(latest)}},
        )
    recent.forget_candles(symbol)  # so the next point folds into the rebuilt candles
    return written + len(latest)


@dataclass(frozen=True, slots=True)
class _Last:
    """An asset's last stored point and its candles (None for an asset without history), and
    whether Redis kept them: else they were read from DynamoDB, and so are its recent lists."""

    memo: recent.Memo | None
    in_redis: bool


def _lasts(symbols: Sequence[str]) -> list[_Last]:
    # The memos Redis keeps; those it lost, or that are in doubt, from each asset's newest
    # stored point, all at once: after Redis restarts, that is every asset of the batch.
    memos = recent.memos(symbols)
    lost = [symbol for symbol, memo in zip(symbols, memos, strict=True) if memo is None]
    stored = dict(zip(lost, client.concurrently(stored_memo, lost), strict=True))
    return [
        _Last(memo, True) if memo is not None else _Last(stored[symbol], False)
        for symbol, memo in zip(symbols, memos, strict=True)
    ]


def _store(due: list[tuple[AggregatedPrice, _Last]]) -> None:
    if not due:
        return
    folded = [_folded(price, last.memo) for price, last in due]
    # The candles these points start the next one after, each stored once and for all.
    ended = [
        (client.candles_table(), items.candle_item(price.asset, name, candle))
        for (price, last), new in zip(due, folded, strict=True)
        if last.memo is not None
        for name, candle in last.memo.candles.items()
        if candle.start != new[name].start
    ]
    points = [
        (client.points_table(), items.point_item(price, new))
        for (price, _), new in zip(due, folded, strict=True)
    ]
    recent.mark_writing([price.asset for price, _ in due])
    # A stored point stands for the candles it ended: they are stored first.
    client.write(ended)
    client.write(points)
    heads = client.concurrently(_heads, due, folded)
    recent.remember(
        [
            recent.Written(price.asset, recent.Memo(HistoryPoint.of(price), new), found)
            for (price, _), new, found in zip(due, folded, heads, strict=True)
        ]
    )


def _folded(price: AggregatedPrice, last: recent.Memo | None) -> dict[str, Candle]:
    # The asset's candles by interval with price folded in. The last point's are its
    # asset's latest, so a candle they do not hold is a new one.
    return {
        name: fold(
            None if last is None else last.candles.get(name),
            price.aggregated_at,
            price.price,
            interval,
        )
        for name, interval in INTERVALS.items()
    }


def _heads(
    due: tuple[AggregatedPrice, _Last], folded: dict[str, Candle]
) -> dict[str, datetime] | recent.Stored:
    # The recent lists are written with the memo, so their heads are its point and candles.
    # Without it, or with a point no newer than its, they are filled again: an asset without
    # history has this point and these candles; another's are read from DynamoDB.
    price, last = due
    if last.in_redis and last.memo is not None and last.memo.point.time < price.aggregated_at:
        return {name: candle.start for name, candle in last.memo.candles.items()}
    if last.memo is None:
        return [HistoryPoint.of(price)], {name: [candle] for name, candle in folded.items()}
    return _newest_stored(price.asset, folded)


def _newest_stored(symbol: str, folded: dict[str, Candle]) -> recent.Stored:
    # As many of symbol's newest points and candles as the recent lists hold, newest first:
    # five queries. The latest candles are those just folded; stored ones start before them.
    points = client.newest(client.points_table(), symbol, settings.PRICEHUB_RECENT_POINTS)
    lists = {}
    for name, latest in folded.items():
        asset, count = items.candle_asset(symbol, name), settings.PRICEHUB_RECENT_CANDLES
        stored = map(items.candle, client.newest(client.candles_table(), asset, count))
        lists[name] = [latest, *(c for c in stored if c.start < latest.start)][:count]
    return [items.point(item) for item in points], lists


def _rolled_up(symbol: str, building: dict[str, Candle]) -> Iterator[Item]:
    # Yields each candle once a later point starts the next one; the latest of every
    # interval are left in building.
    for moment, price in _points(symbol):
        for name, interval in INTERVALS.items():
            candle = fold(building.get(name), moment, price, interval)
            if name in building and building[name].start != candle.start:
                yield items.candle_item(symbol, name, building[name])
            building[name] = candle


def _points(symbol: str) -> Iterator[tuple[datetime, Decimal]]:
    request = {
        "TableName": client.points_table(),
        "KeyConditionExpression": "asset = :asset",
        "ExpressionAttributeValues": {":asset": {"S": symbol}},
        "ProjectionExpression": "#t, price",
        "ExpressionAttributeNames": {"#t": "timestamp"},
    }
    for response in client.client().get_paginator("query").paginate(**request):
        for item in response["Items"]:
            yield from_epoch_ms(item["timestamp"]["N"]), Decimal(item["price"]["N"])

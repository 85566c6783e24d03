"""Reading history: the latest point, pages of points and candles. Reads that the recent
past in Redis (aggregation/recent.py) covers are answered from there, the others from
DynamoDB."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aggregation import recent
from aggregation.candles import INTERVALS, Candle, start_of
from aggregation.history import client, items
from aggregation.price import AggregatedPrice, HistoryPoint, epoch_ms


def latest(symbol: str) -> AggregatedPrice | None:
    """Return the newest stored point of symbol, or None."""
    newest = client.newest(client.points_table(), symbol, 1)
    return items.price(newest[0]) if newest else None


def stored_memo(symbol: str) -> recent.Memo | None:
    """Return symbol's newest stored point and its candles, or None for an asset without
    history."""
    newest = client.newest(client.points_table(), symbol, 1)
    return recent.Memo(items.point(newest[0]), items.candles_of(newest[0])) if newest else None


def page(
    symbol: str,
    start: datetime,
    end: datetime,
    *,
    newest_first: bool,
    limit: int,
    after_ms: int | None = None,
) -> tuple[list[HistoryPoint], int | None]:
    """Return up to limit points of symbol in [start, end] after the point at after_ms,
    and the timestamp to continue after (None when no more follow)."""
    lower, upper = epoch_ms(start), epoch_ms(end)
    if after_ms is not None and newest_first:
        upper = min(upper, after_ms - 1)
    elif after_ms is not None:
        lower = max(lower, after_ms + 1)
    found = recent.points_page(symbol, lower, upper, newest_first=newest_first, limit=limit)
    if found is None:
        found = _stored_page(symbol, start, end, after_ms, newest_first=newest_first, limit=limit)
    return found


def candles_between(
    symbol: str, interval_name: str, start: datetime, end: datetime
) -> list[Candle]:
    """Return symbol's candles that start in [start, end], start floored to the interval,
    oldest first: from Redis when its recent candles reach back that far, else from one Query
    of at most as many items as the range has intervals, and the newest point's candle."""
    interval = INTERVALS[interval_name]
    first = start_of(start, interval)
    found = recent.candles_between(symbol, interval_name, epoch_ms(first), epoch_ms(end))
    if found is not None:
        return found
    key = items.candle_asset(symbol, interval_name)
    request = _range_query(client.candles_table(), key, first, end)
    response = client.client().query(**request, Limit=(end - first) // interval + 1)
    by_start = {candle.start: candle for candle in map(items.candle, response["Items"])}
    last = stored_memo(symbol)
    newest = None if last is None else last.candles.get(interval_name)
    if newest is not None and first <= newest.start <= end:
        by_start[newest.start] = newest
    return sorted(by_start.values(), key=lambda candle: candle.start)


def _stored_page(
    symbol: str,
    start: datetime,
    end: datetime,
    after_ms: int | None,
    *,
    newest_first: bool,
    limit: int,
) -> tuple[list[HistoryPoint], int | None]:
    request = _range_query(client.points_table(), symbol, start, end)
    request["ScanIndexForward"] = not newest_first
    if after_ms is not None:
        request["ExclusiveStartKey"] = {"asset": {"S": symbol}, "timestamp": {"N": str(after_ms)}}
    found = client.query_up_to(request, limit + 1)  # one past the page tells whether more follow
    points = [items.point(item) for item in found[:limit]]
    return points, epoch_ms(points[-1].time) if len(found) > limit else None


def _range_query(table: str, asset: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "TableName": table,
        "KeyConditionExpression": "asset = :asset AND #t BETWEEN :start AND :end",
        "ExpressionAttributeNames": {"#t": "timestamp"},
        "ExpressionAttributeValues": {
            ":asset": {"S": asset},
            ":start": {"N": str(epoch_ms(start))},
            ":end": {"N": str(epoch_ms(end))},
        },
    }

"""Price history in DynamoDB, with its recent past in Redis (aggregation/recent.py).

Points go to table DYNAMODB_TABLE; each point is also folded into its asset's candle of every
interval, and carries those candles (attribute "candles"): the newest point holds its asset's
latest candles. A candle is stored on its own once a later point starts the next one, in
table f"{DYNAMODB_TABLE}-candles" under asset f"{symbol}#{interval}" and the candle's start,
before that point is. Reads that the recent past in Redis covers are answered from there. The
only module that imports boto3.
"""

from __future__ import annotations

import functools
import itertools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from aggregation import candles, recent
from aggregation.candles import INTERVALS, Candle, fold, start_of
from aggregation.price import AggregatedPrice, HistoryPoint, epoch_ms, from_epoch_ms

logger = logging.getLogger(__name__)

Item = dict[str, Any]  # a DynamoDB item in its typed form, such as {"price": {"N": "1.5"}}

_POINT_FIELDS = ("timestamp", "price", "method", "sources_used")
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize
_OHLC = ("open", "high", "low", "close")
_WRITE_BATCH = 25  # the most items one BatchWriteItem takes
_BATCH_ATTEMPTS = 4
_DYNAMODB_ERRORS = (BotoCoreError, ClientError)
_DRAIN_BATCHES = 20  # waiting batches stored by one drain: it runs within a refresh
# A batch's DynamoDB calls run this many at once, from every refresh thread of the process.
_CONCURRENT_CALLS = 16
_calls = ThreadPoolExecutor(max_workers=_CONCURRENT_CALLS, thread_name_prefix="dynamodb")


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

    While DynamoDB cannot take them, prices wait in Redis, after those already waiting, and
    are stored in order once it can (see drain): the refresh goes on meanwhile. A price no
    newer than its asset's last point is never stored.
    """
    if not recent.has_pending():
        try:
            return _record(prices)
        except _DYNAMODB_ERRORS as exc:
            logger.warning("DynamoDB did not take %d prices; they wait: %s", len(prices), exc)
    recent.pending_add([price.to_record() for price in prices])
    mine = {(price.asset, price.aggregated_at) for price in prices}
    return [price for price in drain() if (price.asset, price.aggregated_at) in mine]


def drain() -> list[AggregatedPrice]:
    """Store the prices waiting for DynamoDB, oldest first, while it takes them (at most
    _DRAIN_BATCHES batches a call, by one process at a time); return those stored."""
    stored: list[AggregatedPrice] = []
    with recent.draining() as mine:
        if not mine:
            return stored
        for entry, records in recent.pending(_DRAIN_BATCHES):
            try:
                stored += _record([AggregatedPrice.from_record(each) for each in records])
            except _DYNAMODB_ERRORS:
                break  # still down: they wait for the next call
            recent.pending_done(entry)
    return stored


@dataclass(frozen=True, slots=True)
class _Last:
    """An asset's last stored point and its candles (None for an asset without history), and
    whether Redis kept them: else they were read from DynamoDB, and so are its recent lists."""

    memo: recent.Memo | None
    in_redis: bool


def _record(prices: Sequence[AggregatedPrice]) -> list[AggregatedPrice]:
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


def _lasts(symbols: Sequence[str]) -> list[_Last]:
    # The memos Redis keeps; those it lost, or that are in doubt, from each asset's newest
    # stored point, all at once: after Redis restarts, that is every asset of the batch.
    memos = recent.memos(symbols)
    lost = [symbol for symbol, memo in zip(symbols, memos, strict=True) if memo is None]
    stored = dict(zip(lost, _calls.map(_stored_memo, lost), strict=True))
    return [
        _Last(memo, True) if memo is not None else _Last(stored[symbol], False)
        for symbol, memo in zip(symbols, memos, strict=True)
    ]


def _stored_memo(symbol: str) -> recent.Memo | None:
    newest = _newest(settings.DYNAMODB_TABLE, symbol, 1)
    return recent.Memo(_point(newest[0]), _candles_of(newest[0])) if newest else None


def latest(symbol: str) -> AggregatedPrice | None:
    """Return the newest stored point of symbol, or None."""
    newest = _newest(settings.DYNAMODB_TABLE, symbol, 1)
    return _from_item(newest[0]) if newest else None


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
    key = f"{symbol}#{interval_name}"
    request = _range_query(key, first, end) | {"TableName": _candles_table()}
    response = _client().query(**request, Limit=(end - first) // interval + 1)
    by_start = {candle.start: candle for candle in map(_candle, response["Items"])}
    last = _stored_memo(symbol)
    latest = None if last is None else last.candles.get(interval_name)
    if latest is not None and first <= latest.start <= end:
        by_start[latest.start] = latest
    return sorted(by_start.values(), key=lambda candle: candle.start)


def rollup(symbol: str) -> int:
    """Rebuild symbol's candles from its stored points (for points stored without them);
    return how many candles it made."""
    latest: dict[str, Candle] = {}
    items = _rolled_up(symbol, latest)
    written = 0
    while batch := list(itertools.islice(items, _WRITE_BATCH)):
        _write([(_candles_table(), item) for item in batch])
        written += len(batch)
    if newest := _newest(settings.DYNAMODB_TABLE, symbol, 1):
        _client().update_item(
            TableName=settings.DYNAMODB_TABLE,
            Key={"asset": newest[0]["asset"], "timestamp": newest[0]["timestamp"]},
            UpdateExpression="SET candles = :candles",
            ExpressionAttributeValues={":candles": {"S": candles.to_text(latest)}},
        )
    recent.forget_candles(symbol)  # so the next point folds into the rebuilt candles
    return written + len(latest)


def ensure_table() -> None:
    """Create the points and candles tables unless they exist, and wait until they are active."""
    _ensure_tables(_connect(), settings.DYNAMODB_TABLE)


def ping() -> None:
    """Describe the table, raising when DynamoDB cannot be reached (the readiness probe)."""
    _client().describe_table(TableName=settings.DYNAMODB_TABLE)


def _stored_page(
    symbol: str,
    start: datetime,
    end: datetime,
    after_ms: int | None,
    *,
    newest_first: bool,
    limit: int,
) -> tuple[list[HistoryPoint], int | None]:
    request = _range_query(symbol, start, end) | {"ScanIndexForward": not newest_first}
    if after_ms is not None:
        request["ExclusiveStartKey"] = {"asset": {"S": symbol}, "timestamp": {"N": str(after_ms)}}
    items = _query_up_to(request, limit + 1)  # one past the page tells whether more follow
    points = [_point(item) for item in items[:limit]]
    return points, epoch_ms(points[-1].time) if len(items) > limit else None


def _query_up_to(request: dict[str, Any], count: int) -> list[Item]:
    # A Query stops at 1 MB, so ask on until count items or the end.
    items: list[Item] = []
    while len(items) < count:
        response = _client().query(**request, Limit=count - len(items))
        items += response["Items"]
        if "LastEvaluatedKey" not in response:
            break
        request = request | {"ExclusiveStartKey": response["LastEvaluatedKey"]}
    return items


def _store(due: list[tuple[AggregatedPrice, _Last]]) -> None:
    if not due:
        return
    folded = [_folded(price, last.memo) for price, last in due]
    table, candles_table = settings.DYNAMODB_TABLE, _candles_table()
    # The candles these points start the next one after, each stored once and for all.
    ended = [
        (candles_table, _candle_item(price.asset, name, candle))
        for (price, last), new in zip(due, folded, strict=True)
        if last.memo is not None
        for name, candle in last.memo.candles.items()
        if candle.start != new[name].start
    ]
    points = [(table, _point_item(price, new)) for (price, _), new in zip(due, folded, strict=True)]
    recent.mark_writing([price.asset for price, _ in due])
    # A stored point stands for the candles it ended: they are stored first.
    _write(ended)
    _write(points)
    heads = _calls.map(_heads, due, folded)
    written = [
        recent.Written(price.asset, recent.Memo(HistoryPoint.of(price), new), found)
        for (price, _), new, found in zip(due, folded, heads, strict=True)
    ]
    recent.remember(written)


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
    points = _newest(settings.DYNAMODB_TABLE, symbol, recent.RECENT_POINTS)
    table, count = _candles_table(), recent.RECENT_CANDLES
    lists = {}
    for name, latest in folded.items():
        stored = map(_candle, _newest(table, f"{symbol}#{name}", count))
        lists[name] = [latest, *(c for c in stored if c.start < latest.start)][:count]
    return [_point(item) for item in points], lists


def _newest(table: str, asset: str, count: int) -> list[Item]:
    request = {
        "TableName": table,
        "KeyConditionExpression": "asset = :asset",
        "ExpressionAttributeValues": {":asset": {"S": asset}},
        "ScanIndexForward": False,
        "ConsistentRead": True,  # so it holds the point just written
    }
    return _query_up_to(request, count)


def _rolled_up(symbol: str, building: dict[str, Candle]) -> Iterator[Item]:
    # Yields each candle once a later point starts the next one; the latest of every
    # interval are left in building.
    for moment, price in _points(symbol):
        for name, interval in INTERVALS.items():
            candle = fold(building.get(name), moment, price, interval)
            if name in building and building[name].start != candle.start:
                yield _candle_item(symbol, name, building[name])
            building[name] = candle


def _points(symbol: str) -> Iterator[tuple[datetime, Decimal]]:
    request = {
        "TableName": settings.DYNAMODB_TABLE,
        "KeyConditionExpression": "asset = :asset",
        "ExpressionAttributeValues": {":asset": {"S": symbol}},
        "ProjectionExpression": "#t, price",
        "ExpressionAttributeNames": {"#t": "timestamp"},
    }
    for response in _client().get_paginator("query").paginate(**request):
        for item in response["Items"]:
            yield from_epoch_ms(item["timestamp"]["N"]), Decimal(item["price"]["N"])


def _candle_key(symbol: str, interval_name: str, moment: datetime) -> Item:
    start = start_of(moment, INTERVALS[interval_name])
    return {"asset": {"S": f"{symbol}#{interval_name}"}, "timestamp": {"N": str(epoch_ms(start))}}


def _candle_item(symbol: str, interval_name: str, candle: Candle) -> Item:
    item = _candle_key(symbol, interval_name, candle.start)
    item |= {name: {"N": str(getattr(candle, name))} for name in _OHLC}
    return item | {"points": {"N": str(candle.points)}}


def _candle(item: Item) -> Candle:
    return Candle(
        start=from_epoch_ms(item["timestamp"]["N"]),
        points=int(item["points"]["N"]),
        **{name: Decimal(item[name]["N"]) for name in _OHLC},
    )


def _write(items: list[tuple[str, Item]]) -> None:
    # Each item with its table; BatchWriteItem takes at most 25 items, of any tables. The
    # calls run at once: one after the other, they took most of a batch refresh's time.
    requests: list[dict[str, list[Item]]] = []
    for start in range(0, len(items), _WRITE_BATCH):
        request: dict[str, list[Item]] = {}
        for table, item in items[start : start + _WRITE_BATCH]:
            request.setdefault(table, []).append({"PutRequest": {"Item": item}})
        requests.append(request)
    send = _client().batch_write_item
    # list() waits for every call, and raises the first one's error.
    list(_calls.map(lambda request: _until_processed(send, request, "UnprocessedItems"), requests))


def _until_processed(
    send: Callable[..., dict[str, Any]], request: dict[str, Any], left: str
) -> list[dict[str, Any]]:
    """Send a batch request, then what DynamoDB left of it under left; return the answers.

    Raise ClientError, as for any DynamoDB failure, when some is still left after a few tries.
    """
    answers: list[dict[str, Any]] = []
    for attempt in range(_BATCH_ATTEMPTS):
        if attempt:
            time.sleep(0.05 * 2**attempt)  # DynamoDB leaves some out when throttled: back off
        answers.append(send(RequestItems=request))
        request = answers[-1].get(left)
        if not request:
            return answers
    error = {"Code": left, "Message": f"{left} after {_BATCH_ATTEMPTS} attempts"}
    raise ClientError({"Error": error}, send.__name__)


def _range_query(symbol: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "TableName": settings.DYNAMODB_TABLE,
        "KeyConditionExpression": "asset = :asset AND #t BETWEEN :start AND :end",
        "ExpressionAttributeNames": {"#t": "timestamp"},
        "ExpressionAttributeValues": {
            ":asset": {"S": symbol},
            ":start": {"N": str(epoch_ms(start))},
            ":end": {"N": str(epoch_ms(end))},
        },
    }


def _point_item(price: AggregatedPrice, folded: dict[str, Candle]) -> Item:
    item = {key: _serialize(value) for key, value in price.to_record().items()}
    return item | {"candles": {"S": candles.to_text(folded)}}


def _candles_of(point: Item) -> dict[str, Candle]:
    # A point stored before points carried their candles has none (see rollup).
    return candles.from_text(point["candles"]["S"]) if "candles" in point else {}


def _point(item: Item) -> HistoryPoint:
    return HistoryPoint.from_record({key: _deserialize(item[key]) for key in _POINT_FIELDS})


def _from_item(item: Item) -> AggregatedPrice:
    fields = {key: _deserialize(value) for key, value in item.items() if key != "candles"}
    return AggregatedPrice.from_record(fields)


def _candles_table(table: str | None = None) -> str:
    return f"{table or settings.DYNAMODB_TABLE}-candles"


def _client() -> Any:
    # One thread-safe client per endpoint and table; the tables are created on first use.
    return _client_for(settings.DYNAMODB_ENDPOINT_URL, settings.DYNAMODB_TABLE)


@functools.cache
def _client_for(endpoint_url: str | None, table: str) -> Any:
    client = _connect()
    _ensure_tables(client, table)
    return client


def _connect() -> Any:
    endpoint = settings.DYNAMODB_ENDPOINT_URL
    credentials = {}
    if endpoint and boto3.Session().get_credentials() is None:
        # DynamoDB Local accepts any credentials; AWS itself takes them from the usual chain.
        credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=settings.AWS_REGION,
        config=Config(
            connect_timeout=2,
            read_timeout=5,
            retries={"max_attempts": 2},
            # The refresh threads and their concurrent calls, each with a connection.
            max_pool_connections=2 * _CONCURRENT_CALLS,
            # The requests are built here, not typed by users: checking each one again cost a
            # busy worker more than DynamoDB's answer did.
            parameter_validation=False,
        ),
        **credentials,
    )


def _ensure_table(client: Any, name: str) -> None:
    try:
        client.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": "asset", "KeyType": "HASH"},
                {"AttributeName": "timestamp", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "asset", "AttributeType": "S"},
                {"AttributeName": "timestamp", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )


def _ensure_tables(client: Any, table: str) -> None:
    for name in (table, _candles_table(table)):
        _ensure_table(client, name)

"""The recent past of each asset in Redis: the memo of its last stored point, and lists of its
newest points and candles, which answer most history reads without DynamoDB; and the prices
waiting to be recorded (see pending_add).

Each list holds its newest element first and is exact from its oldest element onward: every
point (or candle) stored since that one is in it, so a window that the list reaches back to is
whole; an older window is read from DynamoDB. A list that holds all there is ends with a
marker timed before any point, which trimming drops first. Elements are "<epoch ms> <JSON>",
so a read finds its window without decoding the others. Only aggregation/history/ uses this
module; it writes here once DynamoDB holds what is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from redis.client import Pipeline
from redis.exceptions import LockError

from aggregation import candles
from aggregation.candles import INTERVALS, Candle
from aggregation.price import HistoryPoint, epoch_ms, from_epoch_ms
from common import redis_store
from common.redis_store import keys, scripts

RECENT_POINTS = 1000
RECENT_CANDLES = 200  # twice the default range of a candles request

Entry = tuple[int, bytes]  # a list element split into its time and its JSON
_DRAIN_LOCK_SECONDS = 60
_BEGINNING = f"{-(2**63)} null"  # the end of a list that holds all there is


@dataclass(frozen=True, slots=True)
class Memo:
    """An asset's last stored point and the candle of every interval it was folded into."""

    point: HistoryPoint
    candles: dict[str, Candle]


def memos(symbols: Sequence[str]) -> list[Memo | None]:
    """Return the memo of each symbol's last stored point, or None where it is lost or in doubt."""
    names = [keys.history_memo(s) for s in symbols] + [keys.history_writing(s) for s in symbols]
    values = None
    with redis_store.best_effort("the history memos"):
        values = redis_store.connection().mget(names) if names else []
    if values is None:
        return [None] * len(symbols)
    # A write cut short may have reached DynamoDB after all: then the memo and lists may lag it.
    return [
        None if value is None or cut_short is not None else _memo(value)
        for value, cut_short in zip(values[: len(symbols)], values[len(symbols) :], strict=True)
    ]


def mark_writing(symbols: Sequence[str]) -> None:
    """Note that points of symbols are on their way to DynamoDB, until remember() follows."""
    with (
        redis_store.best_effort("marking history writes"),
        redis_store.connection().pipeline(transaction=False) as pipe,
    ):
        for symbol in symbols:
            pipe.set(keys.history_writing(symbol), 1, ex=_ttl())
        pipe.execute()


Stored = tuple[list[HistoryPoint], dict[str, list[Candle]]]  # newest first, as DynamoDB has


@dataclass(frozen=True, slots=True)
class Written:
    """A point just stored, as the memo to keep, and the starts of the candles at the head of
    its lists; or, when they are lost or in doubt, the asset's newest stored points and
    candles (by interval) to fill them with again."""

    symbol: str
    memo: Memo
    heads: dict[str, datetime] | Stored


def remember(written: Sequence[Written]) -> None:
    """Keep each memo, and put each point and its candles at the head of their lists, all in
    one MULTI, so memos and lists change together."""
    kept = [
        _kept(each.symbol, each.memo, each.heads)
        for each in written
        if not isinstance(each.heads, tuple)
    ]
    # Lost, the writing marks stay, so the lists of these assets start again at their next point.
    with (
        redis_store.best_effort("keeping the recent history"),
        redis_store.connection().pipeline() as pipe,
    ):
        scripts.keep_recent(
            pipe, kept, ttl=_ttl(), points_cap=RECENT_POINTS, candles_cap=RECENT_CANDLES
        )
        for each in written:
            if isinstance(each.heads, tuple):
                _refill_all(pipe, each.symbol, each.memo, each.heads)
        pipe.execute()


def pending_add(records: Sequence[dict[str, Any]]) -> None:
    """Keep prices' records (AggregatedPrice.to_record) to be recorded, after those kept
    before. Raise while Redis is unavailable: they are lost."""
    if records:
        with redis_store.connection().pipeline(transaction=False) as pipe:
            for record in records:
                pipe.xadd(keys.history_pending(), {"price": json.dumps(record, default=str)})
            pipe.execute()


def pending(count: int) -> list[tuple[bytes, Any]]:
    """Return up to count of the oldest records waiting, each with its id for pending_done
    (None for an entry of another form)."""
    entries = redis_store.connection().xrange(keys.history_pending(), count=count)
    return [(entry, json.loads(fields.get(b"price", b"null"))) for entry, fields in entries]


def pending_done(entries: Sequence[bytes]) -> None:
    """Forget records that are recorded."""
    redis_store.connection().xdel(keys.history_pending(), *entries)


def pending_state() -> tuple[int, float | None]:
    """Return how many records wait, and when the oldest was kept (epoch seconds; None
    when none waits)."""
    with redis_store.connection().pipeline(transaction=False) as pipe:
        pipe.xlen(keys.history_pending())
        pipe.xrange(keys.history_pending(), count=1)
        count, oldest = pipe.execute()
    # A stream entry's id starts with the epoch milliseconds Redis added it at.
    return count, int(oldest[0][0].split(b"-")[0]) / 1000 if oldest else None


@contextmanager
def draining() -> Iterator[bool]:
    """Hold, when no other process does, the lock under which the waiting batches are stored
    in order; yield whether this one holds it."""
    redis = redis_store.connection()
    lock = redis.lock(keys.history_draining(), timeout=_DRAIN_LOCK_SECONDS, blocking=False)
    held = lock.acquire()
    try:
        yield held
    finally:
        if held:
            with suppress(LockError):  # it expired: the other holder's release is its own
                lock.release()


def points_page(
    symbol: str, lower: int, upper: int, *, newest_first: bool, limit: int
) -> tuple[list[HistoryPoint], int | None] | None:
    """Return up to limit of symbol's points timed in [lower, upper] (epoch ms), and the time of
    the last one when more follow; None when the list cannot tell."""
    key, redis, found = keys.recent_points(symbol), redis_store.connection(), None
    with redis_store.best_effort(f"the recent points of {symbol}"):
        # Newest first, a page is most often the head of the list: read the rest only if not.
        entries = redis.lrange(key, 0, limit if newest_first else -1)
        found = _window(entries, lower, upper, newest_first=newest_first, limit=limit)
        if found is None and newest_first and len(entries) > limit:
            entries = redis.lrange(key, 0, -1)
            found = _window(entries, lower, upper, newest_first=newest_first, limit=limit)
    if found is None:
        return None
    page, more = found
    points = [_point(at, body) for at, body in page]
    return points, page[-1][0] if more else None


def candles_between(symbol: str, interval_name: str, first: int, last: int) -> list[Candle] | None:
    """Return symbol's candles that start in [first, last] (epoch ms), oldest first; None when
    the list does not reach back to first."""
    entries = None
    with redis_store.best_effort(f"the recent candles of {symbol}"):
        entries = redis_store.connection().lrange(keys.recent_candles(symbol, interval_name), 0, -1)
    if entries is None:
        return None
    starts = [_split(entry)[0] for entry in entries]
    if not starts or starts[-1] > first:
        return None
    return [
        candles.from_entry(entry)
        for start, entry in zip(reversed(starts), reversed(entries), strict=True)
        if first <= start <= last
    ]


def forget_candles(symbol: str) -> None:
    """Drop symbol's memo and recent candles, so the next point starts from stored candles."""
    lists = (keys.recent_candles(symbol, name) for name in INTERVALS)
    redis_store.connection().delete(keys.history_memo(symbol), *lists)


def _window(
    entries: list[bytes], lower: int, upper: int, *, newest_first: bool, limit: int
) -> tuple[list[Entry], bool] | None:
    # entries are the head of the list, or all of it: the page, and whether more follow.
    split = [_split(entry) for entry in entries]
    inside = [entry for entry in split if lower <= entry[0] <= upper]
    if newest_first and len(inside) > limit:
        return inside[:limit], True  # the newest of the window are the newest in the list
    if not split or split[-1][0] > lower:
        return None  # older points of the window may be missing
    if not newest_first:
        inside.reverse()
    return inside[:limit], len(inside) > limit


def _kept(symbol: str, memo: Memo, heads: dict[str, datetime]) -> scripts.Recent:
    # A point whose heads are not to be refilled: the same candle before it is replaced; a
    # lost list stays empty.
    folded = [
        (name, heads.get(name) == candle.start, candles.entry(candle))
        for name, candle in memo.candles.items()
    ]
    return scripts.Recent(symbol, _memo_value(memo), _point_entry(memo.point), folded)


def _refill_all(pipe: Pipeline, symbol: str, memo: Memo, stored: Stored) -> None:
    points, heads = stored
    pipe.set(keys.history_memo(symbol), _memo_value(memo), ex=_ttl())
    pipe.delete(keys.history_writing(symbol))
    _refill(pipe, keys.recent_points(symbol), [_point_entry(p) for p in points], RECENT_POINTS)
    for name, found in heads.items():
        entries = [candles.entry(candle) for candle in found]
        _refill(pipe, keys.recent_candles(symbol, name), entries, RECENT_CANDLES)


def _refill(pipe: Pipeline, key: str, entries: list[str], cap: int) -> None:
    pipe.delete(key)
    pipe.rpush(key, *entries, *([_BEGINNING] if len(entries) < cap else []))
    pipe.expire(key, _ttl())


def _memo_value(memo: Memo) -> str:
    # The point's entry, as its list holds it, then its candles.
    return f"{_point_entry(memo.point)}\n{candles.to_text(memo.candles)}"


def _memo(value: bytes) -> Memo | None:
    # None for a memo this version cannot read (one kept in an older form): it counts as
    # lost, and is read back from DynamoDB.
    point, _, folded = value.partition(b"\n")
    try:
        return Memo(_point(*_split(point)), candles.from_text(folded))
    except (ValueError, TypeError, AttributeError, ArithmeticError):  # decimal's errors too
        return None


def _point_entry(point: HistoryPoint) -> str:
    # What a page shows and no more: a page reads a hundred of them.
    fields = json.dumps([str(point.price), point.method, point.sources_used])
    return f"{epoch_ms(point.time)} {fields}"


def _point(at: int, body: bytes) -> HistoryPoint:
    price, method, sources_used = json.loads(body)
    return HistoryPoint(from_epoch_ms(at), Decimal(price), method, sources_used)


def _split(entry: bytes) -> Entry:
    at, _, body = entry.partition(b" ")
    return int(at), body


def _ttl() -> int:
    return settings.PRICEHUB_CACHE_TTL_SECONDS

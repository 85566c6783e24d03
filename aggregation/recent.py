"""The recent past of each asset in Redis: the memo of its last stored point, and lists of its
newest points and candles, which answer most history reads without DynamoDB; and the prices
waiting for DynamoDB while it is down (see pending_add).

Each list holds its newest element first and is exact from its oldest element onward: every
point (or candle) stored since that one is in it, so a window that the list reaches back to is
whole; an older window is read from DynamoDB. A list that holds all there is ends with a
marker timed before any point, which trimming drops first. Elements are "<epoch ms> <JSON>",
so a read finds its window without decoding the others. Only history.py uses this module; it writes
here once DynamoDB holds what is written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django_redis import get_redis_connection
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import LockError, RedisError

from aggregation import candles
from aggregation.candles import INTERVALS, Candle
from aggregation.price import HistoryPoint, epoch_ms, from_epoch_ms

logger = logging.getLogger(__name__)

RECENT_POINTS = 1000
RECENT_CANDLES = 200  # twice the default range of a candles request

Entry = tuple[int, bytes]  # a list element split into its time and its JSON
_PENDING = "history-pending"  # stream: batches of prices waiting for DynamoDB, oldest first
_DRAINING = "history-draining"  # the lock of the one process storing them
_DRAIN_LOCK_SECONDS = 60
_BEGINNING = f"{-(2**63)} null"  # the end of a list that holds all there is

# Keeps points and their candles (see _kept): per point, its memo and writing mark, its
# points list, then a candles list per interval; ARGV: TTL, the lists' caps, the number of
# intervals, then per point its memo and entry and, per interval, whether the head is the
# same candle (1 drops it) and the candle's entry. Each list keeps the memo's TTL: without
# it, the next point fills them again.
_KEEP = """
local ttl, points_cap, candles_cap, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local function push(key, entry, cap)
  redis.call('LPUSH', key, entry)
  redis.call('LTRIM', key, 0, cap - 1)
  redis.call('EXPIRE', key, ttl)
end
local k, a = 1, 5
while k <= #KEYS do
  redis.call('SET', KEYS[k], ARGV[a], 'EX', ttl)
  redis.call('DEL', KEYS[k + 1])
  push(KEYS[k + 2], ARGV[a + 1], points_cap)
  for i = 1, n do
    local key = KEYS[k + 2 + i]
    if ARGV[a + 2 * i] == '1' then redis.call('LPOP', key) end
    push(key, ARGV[a + 2 * i + 1], candles_cap)
  end
  k, a = k + 3 + n, a + 2 + 2 * n
end
"""


@dataclass(frozen=True, slots=True)
class Memo:
    """An asset's last stored point and the candle of every interval it was folded into."""

    point: HistoryPoint
    candles: dict[str, Candle]


def memos(symbols: Sequence[str]) -> list[Memo | None]:
    """Return the memo of each symbol's last stored point, or None where it is lost or in doubt."""
    keys = [_memo_key(symbol) for symbol in symbols] + [_writing_key(s) for s in symbols]
    try:
        values = _redis().mget(keys) if keys else []
    except RedisError as exc:
        logger.warning("Redis unavailable for the history memos: %s", exc)
        return [None] * len(symbols)
    # A write cut short may have reached DynamoDB after all: then the memo and lists may lag it.
    return [
        None if value is None or cut_short is not None else _memo(value)
        for value, cut_short in zip(values[: len(symbols)], values[len(symbols) :], strict=True)
    ]


def mark_writing(symbols: Sequence[str]) -> None:
    """Note that points of symbols are on their way to DynamoDB, until remember() follows."""
    try:
        with _redis().pipeline(transaction=False) as pipe:
            for symbol in symbols:
                pipe.set(_writing_key(symbol), 1, ex=_ttl())
            pipe.execute()
    except RedisError as exc:
        logger.warning("Redis unavailable to mark history writes: %s", exc)


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
    kept = [each for each in written if not isinstance(each.heads, tuple)]
    try:
        with _redis().pipeline() as pipe:
            if kept:
                keys, args = _kept(kept)
                pipe.eval(_KEEP, len(keys), *keys, *args)
            for each in written:
                if isinstance(each.heads, tuple):
                    _refill_all(pipe, each.symbol, each.memo, each.heads)
            pipe.execute()
    except RedisError as exc:
        # The writing marks stay, so the lists of these assets start again at their next point.
        logger.warning("Redis unavailable to keep the recent history: %s", exc)


def pending_add(records: Sequence[dict[str, Any]]) -> None:
    """Keep prices' records (AggregatedPrice.to_record) to store once DynamoDB takes them,
    after those kept before. Raise RedisError: with Redis down too, they are lost."""
    if records:
        _redis().xadd(_key(_PENDING), {"prices": json.dumps(records, default=str)})


def has_pending() -> bool:
    """Return True while prices wait for DynamoDB (False when Redis cannot tell)."""
    try:
        return bool(_redis().xlen(_key(_PENDING)))
    except RedisError:
        return False


def pending(count: int) -> list[tuple[bytes, list[dict[str, Any]]]]:
    """Return up to count of the oldest batches waiting, each with its id for pending_done."""
    entries = _redis().xrange(_key(_PENDING), count=count)
    return [(entry, json.loads(fields[b"prices"])) for entry, fields in entries]


def pending_done(entry: bytes) -> None:
    """Forget a batch that is stored."""
    _redis().xdel(_key(_PENDING), entry)


@contextmanager
def draining() -> Iterator[bool]:
    """Hold, when no other process does, the lock under which the waiting batches are stored
    in order; yield whether this one holds it."""
    lock = _redis().lock(_key(_DRAINING), timeout=_DRAIN_LOCK_SECONDS, blocking=False)
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
    key = _points_key(symbol)
    try:
        # Newest first, a page is most often the head of the list: read the rest only if not.
        entries = _redis().lrange(key, 0, limit if newest_first else -1)
        found = _window(entries, lower, upper, newest_first=newest_first, limit=limit)
        if found is None and newest_first and len(entries) > limit:
            entries = _redis().lrange(key, 0, -1)
            found = _window(entries, lower, upper, newest_first=newest_first, limit=limit)
    except RedisError as exc:
        logger.warning("Redis unavailable for the recent points of %s: %s", symbol, exc)
        return None
    if found is None:
        return None
    page, more = found
    points = [_point(at, body) for at, body in page]
    return points, page[-1][0] if more else None


def candles_between(symbol: str, interval_name: str, first: int, last: int) -> list[Candle] | None:
    """Return symbol's candles that start in [first, last] (epoch ms), oldest first; None when
    the list does not reach back to first."""
    try:
        entries = _redis().lrange(_candles_key(symbol, interval_name), 0, -1)
    except RedisError as exc:
        logger.warning("Redis unavailable for the recent candles of %s: %s", symbol, exc)
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
    keys = (_candles_key(symbol, name) for name in INTERVALS)
    _redis().delete(_memo_key(symbol), *keys)


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


def _kept(written: Sequence[Written]) -> tuple[list[str], list[str | int]]:
    # The keys and arguments of _KEEP for these points, whose heads are not to be refilled.
    keys: list[str] = []
    args: list[str | int] = [_ttl(), RECENT_POINTS, RECENT_CANDLES, len(INTERVALS)]
    for each in written:
        symbol, memo, heads = each.symbol, each.memo, each.heads
        keys += [_memo_key(symbol), _writing_key(symbol), _points_key(symbol)]
        args += [_memo_value(memo), _point_entry(memo.point)]
        for name in INTERVALS:
            candle = memo.candles[name]
            keys.append(_candles_key(symbol, name))
            # The same candle before this point is replaced; a lost list stays empty.
            args += [int(heads.get(name) == candle.start), candles.entry(candle)]
    return keys, args


def _refill_all(pipe: Pipeline, symbol: str, memo: Memo, stored: Stored) -> None:
    points, heads = stored
    pipe.set(_memo_key(symbol), _memo_value(memo), ex=_ttl())
    pipe.delete(_writing_key(symbol))
    _refill(pipe, _points_key(symbol), [_point_entry(p) for p in points], RECENT_POINTS)
    for name, found in heads.items():
        entries = [candles.entry(candle) for candle in found]
        _refill(pipe, _candles_key(symbol, name), entries, RECENT_CANDLES)


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


def _key(name: str) -> str:
    return cache.make_key(name)


def _memo_key(symbol: str) -> str:
    return _key(f"history-memo:{symbol}")


def _writing_key(symbol: str) -> str:
    return _key(f"history-writing:{symbol}")


def _points_key(symbol: str) -> str:
    return _key(f"history-recent-points:{symbol}")


def _candles_key(symbol: str, interval_name: str) -> str:
    return _key(f"history-recent:{symbol}#{interval_name}")


def _ttl() -> int:
    return settings.PRICEHUB_CACHE_TTL_SECONDS


def _redis() -> Redis:
    return get_redis_connection()

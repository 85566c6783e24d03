"""The recent past of each asset in Redis: the memo of its last stored point, and lists of its
newest points and candles, which answer most history reads without DynamoDB; and the prices
waiting to be recorded (see pending_add).

Each list holds its newest element first and is exact from its oldest element onward: every
point (or candle) stored since that one is in it, so a window that the list reaches back to is
whole; an older window is read from DynamoDB. A list that holds all there is ends with a
marker timed before any point, which trimming drops first. Their formats are aggregation.codec's;
a list holding an entry this version cannot read cannot tell, and DynamoDB answers. Only
aggregation/history/ uses this module; it writes here once DynamoDB holds what is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from redis.client import Pipeline
from redis.exceptions import LockError

from aggregation import codec
from aggregation.candles import INTERVALS, Candle
from aggregation.price import AggregatedPrice, HistoryPoint
from common import redis_store
from common.redis_store import keys, scripts

Entry = tuple[int, list[Any]]  # a list's element, decoded (codec.decode_entries), and its time
_BEGINNING = codec.encode_beginning()  # the end of a list that holds all there is


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
            pipe,
            kept,
            ttl=_ttl(),
            points_cap=settings.PRICEHUB_RECENT_POINTS,
            candles_cap=settings.PRICEHUB_RECENT_CANDLES,
        )
        for each in written:
            if isinstance(each.heads, tuple):
                _refill_all(pipe, each.symbol, each.memo, each.heads)
        pipe.execute()


def pending_add(prices: Sequence[AggregatedPrice]) -> None:
    """Keep prices to be recorded, after those kept before. Raise while Redis is unavailable:
    they are lost."""
    if prices:
        with redis_store.connection().pipeline(transaction=False) as pipe:
            for price in prices:
                pipe.xadd(keys.history_pending(), {"price": codec.encode_record(price)})
            pipe.execute()


def pending(count: int) -> list[tuple[bytes, AggregatedPrice | None]]:
    """Return up to count of the oldest prices waiting, each with its id for pending_done
    (None for an entry this version cannot read)."""
    entries = redis_store.connection().xrange(keys.history_pending(), count=count)
    return [(entry, _waiting(fields)) for entry, fields in entries]


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
def draining() -> Iterator[Callable[[], bool]]:
    """Take, when no other process holds it, the lock under which the waiting prices are
    stored in order; yield `holds`, which says whether this process holds it and, if so, keeps
    it HISTORY_DRAIN_LOCK_SECONDS more: a drain asks before each round, so a drain that lasts
    keeps the lock, and one whose process dies frees it that long after its last round began."""
    lock = redis_store.connection().lock(
        keys.history_draining(),
        timeout=settings.PRICEHUB_HISTORY_DRAIN_LOCK_SECONDS,
        blocking=False,
    )
    held = lock.acquire()

    def holds() -> bool:
        nonlocal held
        if held:
            try:
                lock.reacquire()
            except LockError:  # it expired, and another process may be draining
                held = False
        return held

    try:
        yield holds
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
    with redis_store.best_effort(f"the recent points of {symbol}"), suppress(codec.Undecodable):
        # Newest first, a page is most often the head of the list: read the rest only if not.
        entries = redis.lrange(key, 0, limit if newest_first else -1)
        found = _window(entries, lower, upper, newest_first=newest_first, limit=limit)
        if found is None and newest_first and len(entries) > limit:
            entries = redis.lrange(key, 0, -1)
            found = _window(entries, lower, upper, newest_first=newest_first, limit=limit)
        if found is not None:
            page, more = found
            points = [codec.point(entry) for _, entry in page]
            return points, page[-1][0] if more else None
    return None


def candles_between(symbol: str, interval_name: str, first: int, last: int) -> list[Candle] | None:
    """Return symbol's candles that start in [first, last] (epoch ms), oldest first; None when
    the list does not reach back to first."""
    key = keys.recent_candles(symbol, interval_name)
    with redis_store.best_effort(f"the recent candles of {symbol}"), suppress(codec.Undecodable):
        timed = codec.decode_entries(redis_store.connection().lrange(key, 0, -1))
        if timed and timed[-1][0] <= first:
            return [codec.candle(entry) for at, entry in reversed(timed) if first <= at <= last]
    return None


def forget_candles(symbol: str) -> None:
    """Drop symbol's memo and recent candles, so the next point starts from stored candles."""
    lists = (keys.recent_candles(symbol, name) for name in INTERVALS)
    redis_store.connection().delete(keys.history_memo(symbol), *lists)


def _window(
    entries: list[bytes], lower: int, upper: int, *, newest_first: bool, limit: int
) -> tuple[list[Entry], bool] | None:
    # entries are the head of the list, or all of it: the page, and whether more follow.
    timed = codec.decode_entries(entries)
    inside = [entry for entry in timed if lower <= entry[0] <= upper]
    if newest_first and len(inside) > limit:
        return inside[:limit], True  # the newest of the window are the newest in the list
    if not timed or timed[-1][0] > lower:
        return None  # older points of the window may be missing
    if not newest_first:
        inside.reverse()
    return inside[:limit], len(inside) > limit


def _kept(symbol: str, memo: Memo, heads: dict[str, datetime]) -> scripts.Recent:
    # A point whose heads are not to be refilled: the same candle before it is replaced; a
    # lost list stays empty.
    folded = [
        (name, heads.get(name) == candle.start, codec.encode_candle(candle))
        for name, candle in memo.candles.items()
    ]
    memo_value = codec.encode_memo(memo.point, memo.candles)
    return scripts.Recent(symbol, memo_value, codec.encode_point(memo.point), folded)


def _refill_all(pipe: Pipeline, symbol: str, memo: Memo, stored: Stored) -> None:
    points, heads = stored
    pipe.set(keys.history_memo(symbol), codec.encode_memo(memo.point, memo.candles), ex=_ttl())
    pipe.delete(keys.history_writing(symbol))
    entries = [codec.encode_point(point) for point in points]
    _refill(pipe, keys.recent_points(symbol), entries, settings.PRICEHUB_RECENT_POINTS)
    for name, found in heads.items():
        entries = [codec.encode_candle(candle) for candle in found]
        _refill(pipe, keys.recent_candles(symbol, name), entries, settings.PRICEHUB_RECENT_CANDLES)


def _refill(pipe: Pipeline, key: str, entries: list[bytes], cap: int) -> None:
    pipe.delete(key)
    pipe.rpush(key, *entries, *([_BEGINNING] if len(entries) < cap else []))
    pipe.expire(key, _ttl())


def _memo(value: bytes) -> Memo | None:
    # None for a memo this version cannot read (one kept in an older form): it counts as
    # lost, and is read back from DynamoDB.
    try:
        return Memo(*codec.decode_memo(value))
    except codec.Undecodable:
        return None


def _waiting(fields: dict[bytes, bytes]) -> AggregatedPrice | None:
    try:
        return codec.decode_record(fields[b"price"])
    except (KeyError, codec.Undecodable):
        return None


def _ttl() -> int:
    return settings.PRICEHUB_CACHE_TTL_SECONDS

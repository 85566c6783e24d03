"""When each asset is refreshed: the due set, synced with the enabled assets and their tiers,
the demand counts and the promotions they earn, and the version of the asset configuration
every process watches. State in Redis, shared by every beat, worker and web process on any
host (keys and scripts in common.redis_store).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Protocol

from django.conf import settings

from aggregation import codec
from aggregation.models import Asset
from common import redis_store
from common.redis_store import keys, scripts


class _Demand:
    """This process's reads since they were last added to Redis."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.flushed = 0.0  # time.monotonic() of the last flush


_demand = _Demand()


class Tiered(Protocol):
    """What asset_tier reads of an asset: its row, or a read's AssetInfo."""

    symbol: str
    tier: str


def asset_tier(asset: Tiered, promoted: frozenset[str]) -> str:
    """Return the tier asset refreshes at: hot while demand promotes it, else its own."""
    return Asset.Tier.HOT.value if asset.symbol in promoted else asset.tier


def schedule_sync(now: float) -> None:
    """Bring the due set in line with the enabled assets, their tiers and the promotions,
    when any of them changed since it was last synced: only the assets whose promotion
    changed when nothing else did, all of them otherwise."""
    promoted, version, synced = schedule_state()
    tiers = settings.PRICEHUB_TIER_SECONDS
    marker = codec.encode_synced(version.decode(), promoted, tiers)
    if synced == marker:
        return
    assets = Asset.objects.filter(enabled=True).only("symbol", "tier")
    last = _synced(synced)
    whole = last is None or (last[0], last[2]) != (version.decode(), tiers)
    if not whole:
        assets = assets.filter(symbol__in=set(last[1]) ^ promoted)
    intervals = {asset.symbol: tiers[asset_tier(asset, promoted)] for asset in assets}
    due_sync(intervals, now, marker=marker, whole=whole)


def due_take(now: float, limit: int) -> dict[str, float]:
    """Return up to limit symbols due at now (epoch seconds) with their intervals, each moved
    to its next due time."""
    return scripts.take_due(now, limit)


def schedule_state() -> tuple[frozenset[str], bytes, bytes | None]:
    """Return the promoted symbols, the assets version and the marker of the last due_sync."""
    promoted, version, synced = redis_store.connection().mget([*read_keys(), keys.due_synced()])
    return (*parse_read([promoted, version]), synced)


def due_sync(
    intervals: dict[str, float], now: float, *, marker: bytes | str, whole: bool = True
) -> None:
    """Make the due set hold these symbols at these refresh intervals: new ones due from now
    on (see _first_due), one whose interval shrank (a promotion) due within its new interval;
    remember marker as what it was synced to. With whole, drop every other symbol; without,
    leave the others as they are."""
    redis = redis_store.connection()
    known = {member.decode() for member in redis.zrange(keys.due(), 0, -1)} if whole else set()
    gone = known - set(intervals)
    new = {symbol: seconds for symbol, seconds in intervals.items() if symbol not in known}
    with redis.pipeline() as pipe:
        if whole:
            pipe.delete(keys.due_intervals())
        if intervals:
            pipe.hset(keys.due_intervals(), mapping=intervals)
            if whole and new:
                pipe.zadd(keys.due(), _first_due(new, now), nx=True)
            pipe.zadd(keys.due(), {s: now + seconds for s, seconds in intervals.items()}, lt=True)
        if gone:
            pipe.zrem(keys.due(), *gone)
        pipe.set(keys.due_synced(), marker)
        pipe.execute()


def _first_due(new: dict[str, float], now: float) -> dict[str, float]:
    # A few new assets are due at once; many of one interval are spread over it, at most
    # NEW_ASSETS_PER_SECOND a second, and each keeps its place: ten thousand assets due in the same
    # second would come back together every interval.
    due = {}
    for seconds in set(new.values()):
        symbols = sorted(symbol for symbol, interval in new.items() if interval == seconds)
        step = min(seconds, len(symbols) / settings.PRICEHUB_NEW_ASSETS_PER_SECOND) / len(symbols)
        due |= {symbol: now + n * step for n, symbol in enumerate(symbols)}
    return due


def read_keys() -> list[str]:
    """Return the keys a read needs beside the prices: the promotions and the assets version."""
    return [keys.promoted(), keys.assets_version()]


def parse_read(values: list[bytes | None]) -> tuple[frozenset[str], bytes]:
    """Return the promoted symbols and the assets version from the values of read_keys()."""
    promoted, version = values
    return _symbols(promoted), version or b"0"


def assets_changed() -> None:
    """Tell every process that the asset configuration changed; while Redis is unavailable,
    the others see it when their asset table ages out (PRICEHUB_ASSET_TABLE_SECONDS)."""
    with redis_store.best_effort("announcing an asset change"):
        redis_store.connection().incr(keys.assets_version())


def count_requests(symbols: list[str]) -> None:
    """Count one read of each symbol's price, in process; the counts reach Redis in batches."""
    with _demand.lock:
        _demand.counts.update(symbols)
    if time.monotonic() >= _demand.flushed + settings.PRICEHUB_DEMAND_FLUSH_SECONDS:
        flush_requests()


def flush_requests() -> None:
    """Add this process's request counts to the shared ones; a lost batch is harmless."""
    with _demand.lock:
        counts = dict(_demand.counts)
        _demand.counts.clear()
        _demand.flushed = time.monotonic()
    if not counts:
        return
    with (
        redis_store.best_effort(f"counting {sum(counts.values())} requests"),
        redis_store.connection().pipeline(transaction=False) as pipe,
    ):
        for symbol, count in counts.items():
            pipe.zincrby(keys.requests(), count, symbol)
        pipe.execute()


def promote_most_requested(count: int) -> list[str]:
    """Mark the count most requested symbols as promoted, halve all counts; return them.

    However many beats ask, this is done once a period: a call within 0.9 of a period of the
    last one returns the promoted symbols as they are.
    """
    flush_requests()
    redis = redis_store.connection()
    period_ms = int(settings.PRICEHUB_PROMOTION_SECONDS * 1000)
    if not redis.set(keys.promoting(), 1, nx=True, px=max(1, period_ms * 9 // 10)):
        return sorted(promoted())
    key = keys.requests()
    top = [member.decode() for member in redis.zrevrange(key, 0, count - 1)]
    # Halving keeps recent demand weighing most; ZUNIONSTORE onto itself rescales in place.
    redis.zunionstore(key, {key: 0.5})
    redis.zremrangebyscore(key, "-inf", 0.5)
    seconds = int(settings.PRICEHUB_PROMOTION_SECONDS * 2)
    redis.set(keys.promoted(), codec.encode_symbols(top), ex=seconds)
    return top


def promoted() -> frozenset[str]:
    """Return the symbols currently promoted to hot by demand."""
    return _symbols(redis_store.connection().get(keys.promoted()))


def _synced(value: bytes | None) -> tuple[str, list[str], dict[str, float]] | None:
    # What the due set was last synced to; None, so all of it syncs, when nothing says.
    try:
        return None if value is None else codec.decode_synced(value)
    except codec.Undecodable:
        return None


def _symbols(value: bytes | None) -> frozenset[str]:
    return frozenset(() if value is None else codec.decode_symbols(value))

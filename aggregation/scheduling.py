"""When each asset is refreshed: the due set, the demand counts and the promotions they earn,
and the version of the asset configuration every process watches. State in Redis, shared by
every beat, worker and web process on any host. The only module that knows these keys.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter

from django.conf import settings
from django.core.cache import cache
from django_redis import get_redis_connection
from redis import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

_DUE = "due"  # sorted set: symbol -> when it is next due, epoch seconds
_INTERVALS = "due-intervals"  # hash: symbol -> its refresh interval, seconds
_REQUESTS = "requests"
_PROMOTED = "promoted"
_ASSETS_VERSION = "assets-version"
_PROMOTING = "promoting"  # held for most of a period by the beat that promoted
_SYNCED = "due-synced"  # what the due set was last synced to (see due_sync)
# New assets of one interval fall due at most this many a second (a hundred: a batch).
NEW_PER_SECOND = 100

# Takes the due symbols and moves each to its next due time in one step, so two beats never
# dispatch the same refresh. The next due time steps from the last one, not from now, so the
# schedule does not drift with the tick; an asset left behind (by an outage) restarts from now.
_TAKE_DUE = """
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, ARGV[2])
local taken = {}
for i = 1, #due, 2 do
  local interval = tonumber(redis.call('HGET', KEYS[2], due[i]) or '60')
  local next_due = tonumber(due[i + 1]) + interval
  if next_due <= now then next_due = now + interval end
  redis.call('ZADD', KEYS[1], next_due, due[i])
  taken[#taken + 1] = due[i]
  taken[#taken + 1] = tostring(interval)
end
return taken
"""

# This process's reads since the last flush to Redis.
_demand: Counter[str] = Counter()
_demand_lock = threading.Lock()
_demand_flushed = 0.0


def due_take(now: float, limit: int) -> dict[str, float]:
    """Return up to limit symbols due at now (epoch seconds) with their intervals, each moved
    to its next due time."""
    taken = _redis().eval(_TAKE_DUE, 2, _key(_DUE), _key(_INTERVALS), now, limit)
    return {taken[i].decode(): float(taken[i + 1]) for i in range(0, len(taken), 2)}


def schedule_state() -> tuple[frozenset[str], bytes, bytes | None]:
    """Return the promoted symbols, the assets version and the marker of the last due_sync."""
    promoted, version, synced = _redis().mget([*read_keys(), _key(_SYNCED)])
    return (*parse_read([promoted, version]), synced)


def due_sync(intervals: dict[str, float], now: float, *, marker: str, whole: bool = True) -> None:
    """Make the due set hold these symbols at these refresh intervals: new ones due from now
    on (see _first_due), one whose interval shrank (a promotion) due within its new interval;
    remember marker as what it was synced to. With whole, drop every other symbol; without,
    leave the others as they are."""
    redis = _redis()
    known = {member.decode() for member in redis.zrange(_key(_DUE), 0, -1)} if whole else set()
    gone = known - set(intervals)
    new = {symbol: seconds for symbol, seconds in intervals.items() if symbol not in known}
    with redis.pipeline() as pipe:
        if whole:
            pipe.delete(_key(_INTERVALS))
        if intervals:
            pipe.hset(_key(_INTERVALS), mapping=intervals)
            if whole and new:
                pipe.zadd(_key(_DUE), _first_due(new, now), nx=True)
            pipe.zadd(_key(_DUE), {s: now + seconds for s, seconds in intervals.items()}, lt=True)
        if gone:
            pipe.zrem(_key(_DUE), *gone)
        pipe.set(_key(_SYNCED), marker)
        pipe.execute()


def _first_due(new: dict[str, float], now: float) -> dict[str, float]:
    # A few new assets are due at once; many of one interval are spread over it, at most
    # NEW_PER_SECOND a second, and each keeps its place: ten thousand assets due in the same
    # second would come back together every interval.
    due = {}
    for seconds in set(new.values()):
        symbols = sorted(symbol for symbol, interval in new.items() if interval == seconds)
        step = min(seconds, len(symbols) / NEW_PER_SECOND) / len(symbols)
        due |= {symbol: now + n * step for n, symbol in enumerate(symbols)}
    return due


def read_keys() -> list[str]:
    """Return the keys a read needs beside the prices: the promotions and the assets version."""
    return [_key(_PROMOTED), _key(_ASSETS_VERSION)]


def parse_read(values: list[bytes | None]) -> tuple[frozenset[str], bytes]:
    """Return the promoted symbols and the assets version from the values of read_keys()."""
    promoted, version = values
    return frozenset(json.loads(promoted or b"[]")), version or b"0"


def assets_changed() -> None:
    """Tell every process that the asset configuration changed."""
    _redis().incr(_key(_ASSETS_VERSION))


def count_requests(symbols: list[str]) -> None:
    """Count one read of each symbol's price, in process; the counts reach Redis in batches."""
    with _demand_lock:
        _demand.update(symbols)
    if time.monotonic() >= _demand_flushed + settings.PRICEHUB_DEMAND_FLUSH_SECONDS:
        flush_requests()


def flush_requests() -> None:
    """Add this process's request counts to the shared ones; a lost batch is harmless."""
    global _demand_flushed
    with _demand_lock:
        counts = dict(_demand)
        _demand.clear()
        _demand_flushed = time.monotonic()
    if not counts:
        return
    try:
        with _redis().pipeline(transaction=False) as pipe:
            for symbol, count in counts.items():
                pipe.zincrby(_key(_REQUESTS), count, symbol)
            pipe.execute()
    except RedisError:
        logger.warning("Could not count %d requests", sum(counts.values()))


def promote_most_requested(count: int) -> list[str]:
    """Mark the count most requested symbols as promoted, halve all counts; return them.

    However many beats ask, this is done once a period: a call within 0.9 of a period of the
    last one returns the promoted symbols as they are.
    """
    flush_requests()
    redis = _redis()
    period_ms = int(settings.PRICEHUB_PROMOTION_SECONDS * 1000)
    if not redis.set(_key(_PROMOTING), 1, nx=True, px=max(1, period_ms * 9 // 10)):
        return sorted(promoted())
    key = _key(_REQUESTS)
    top = [member.decode() for member in redis.zrevrange(key, 0, count - 1)]
    # Halving keeps recent demand weighing most; ZUNIONSTORE onto itself rescales in place.
    redis.zunionstore(key, {key: 0.5})
    redis.zremrangebyscore(key, "-inf", 0.5)
    redis.set(_key(_PROMOTED), json.dumps(top), ex=int(settings.PRICEHUB_PROMOTION_SECONDS * 2))
    return top


def promoted() -> frozenset[str]:
    """Return the symbols currently promoted to hot by demand."""
    return frozenset(json.loads(_redis().get(_key(_PROMOTED)) or b"[]"))


def _redis() -> Redis:
    return get_redis_connection()


def _key(name: str) -> str:
    return cache.make_key(name)

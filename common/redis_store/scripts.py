"""PriceHub's Lua scripts: the steps that must happen at once in Redis, each behind a function
named for what it does. Run by digest (EVALSHA), loaded when Redis does not know them yet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from redis import Redis
from redis.client import Pipeline
from redis.commands.core import Script

from common.redis_store import connection, keys


def _script(source: str) -> Script:
    # Bound to no client: each call names the one it runs on.
    return Script(None, source.encode())  # type: ignore[arg-type]


# Sets each price's document and record, and announces its document on the stream channel,
# then sets each failure, unless Redis holds one as new or newer for its asset: the time of
# each asset's latest (ARGV, epoch ms) is kept in the sorted sets KEYS[1] (prices) and KEYS[2]
# (failures), and ZADD GT CH changes it only for a later one. Returns the indexes of the prices
# set.
_PUBLISH = _script("""
local ttl, prices, channel = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local kept, k, a = {}, 3, 4
for i = 1, prices do
  if redis.call('ZADD', KEYS[1], 'GT', 'CH', ARGV[a + 1], ARGV[a]) == 1 then
    redis.call('SET', KEYS[k], ARGV[a + 2], 'EX', ttl)
    redis.call('SET', KEYS[k + 1], ARGV[a + 3], 'EX', ttl)
    redis.call('PUBLISH', channel, ARGV[a + 2])
    kept[#kept + 1] = i
  end
  k, a = k + 2, a + 4
end
while k <= #KEYS do
  if redis.call('ZADD', KEYS[2], 'GT', 'CH', ARGV[a + 1], ARGV[a]) == 1 then
    redis.call('SET', KEYS[k], ARGV[a + 2], 'EX', ttl)
  end
  k, a = k + 1, a + 3
end
return kept
""")

# Lets go of the locks (KEYS from 2) that still hold this holder's token (ARGV[1]), and only
# those, then marks the holder's round ended (KEYS[1], for ARGV[2] ms) for those waiting on it.
_RELEASE = _script("""
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
redis.call('RPUSH', KEYS[1], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
""")

# Takes the due symbols and moves each to its next due time in one step, so two beats never
# dispatch the same refresh. The next due time steps from the last one, not from now, so the
# schedule does not drift with the tick; an asset left behind (by an outage) restarts from now.
_TAKE_DUE = _script("""
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
""")

# Keeps points and their candles: per point, its memo and writing mark, its points list, then
# a candles list per interval; ARGV: TTL, the lists' caps, the number of intervals, then per
# point its memo and entry and, per interval, whether the head is the same candle (1 drops
# it) and the candle's entry. Each list keeps the memo's TTL: without it, the next point
# fills them again.
_KEEP_RECENT = _script("""
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
""")

Value = bytes | str


class Published(NamedTuple):
    """A price to publish: its asset, aggregation time (epoch ms), its document (which the
    stream channel announces as it is) and its record."""

    symbol: str
    at_ms: int
    document: Value
    record: Value


class Failed(NamedTuple):
    """A failed refresh to keep: its asset, time (epoch ms) and value."""

    symbol: str
    at_ms: int
    value: Value


def publish(prices: Sequence[Published], failures: Sequence[Failed], *, ttl: int) -> list[int]:
    """Keep each price and failure newer than the one Redis holds for its asset, for ttl
    seconds, announcing each price kept; return the indexes (from 1) of the prices kept."""
    names, args = [keys.published_at(), keys.failed_at()], []
    for price in prices:
        names += [keys.document(price.symbol), keys.price(price.symbol)]
        args += [price.symbol, price.at_ms, price.document, price.record]
    for failure in failures:
        names.append(keys.failure(failure.symbol))
        args += [failure.symbol, failure.at_ms, failure.value]
    header = [ttl, len(prices), keys.stream_channel()]
    return _PUBLISH(names, header + args, client=connection())


def release_locks(symbols: Sequence[str], token: str, *, ended_ms: int) -> None:
    """Let go of the refresh locks of symbols that still hold token, and only those; mark the
    round of token's holder ended, for ended_ms (keys.refresh_ended)."""
    names = [keys.refresh_ended(token), *(keys.refresh_lock(symbol) for symbol in symbols)]
    _RELEASE(names, [token, ended_ms], client=connection())


def take_due(now: float, limit: int) -> dict[str, float]:
    """Return up to limit symbols due at now (epoch seconds) with their intervals, each moved
    to its next due time."""
    taken = _TAKE_DUE([keys.due(), keys.due_intervals()], [now, limit], client=connection())
    return {taken[i].decode(): float(taken[i + 1]) for i in range(0, len(taken), 2)}


class Recent(NamedTuple):
    """A point to keep at the head of its asset's recent lists: its memo and entry, and per
    interval whether the head candle is this point's (to replace) and the candle's entry."""

    symbol: str
    memo: Value
    entry: Value
    candles: Sequence[tuple[str, bool, Value]]  # interval name, same head, entry


def keep_recent(
    pipe: Pipeline | Redis,
    points: Sequence[Recent],
    *,
    ttl: int,
    points_cap: int,
    candles_cap: int,
) -> None:
    """Keep each point's memo, drop its writing mark, and push it and its candles onto their
    lists (capped), as part of pipe."""
    if not points:
        return
    names: list[str] = []
    args: list[Value | int] = [ttl, points_cap, candles_cap, len(points[0].candles)]
    for point in points:
        symbol = point.symbol
        names += [keys.history_memo(symbol), keys.history_writing(symbol)]
        names.append(keys.recent_points(symbol))
        args += [point.memo, point.entry]
        for interval, same, entry in point.candles:
            names.append(keys.recent_candles(symbol, interval))
            args += [int(same), entry]
    _KEEP_RECENT(names, args, client=pipe)

"""PriceHub's published prices in Redis: the latest price of each asset and its document,
refresh failures, refresh locks, and when each venue's quote stood still.

The only module that knows their keys.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django_redis import get_redis_connection
from redis import Redis

from aggregation.documents import render_failure, render_price
from aggregation.price import (
    AggregatedPrice,
    RefreshFailure,
    RefreshInProgress,
    epoch_ms,
    from_epoch_ms,
)
from exchanges.quotes import Quote

logger = logging.getLogger(__name__)

# Longer than any refresh can take (the Celery hard time limit), so a crashed holder's
# lock expires on its own.
REFRESH_LOCK_SECONDS = 30
_LOCK_POLL_SECONDS = 0.05
# Far longer than any quote may be old, so a stuck venue keeps its first-seen time.
_UNCHANGED_TTL = 3600


# Sets each price's document and record and announces its document on the stream channel as
# "<symbol> <document>", then sets each failure, unless the key holds one as new or newer
# (every value starts "[<epoch ms>,"); returns the indexes of the prices set.
_PUBLISH = """
local function newer(key, at)
  local held = redis.call('GET', key)
  if not held then return true end
  local since = tonumber(string.match(held, '^%[(%d+),'))
  return since == nil or since < at
end
local ttl, prices, channel, arg, kept = ARGV[1], tonumber(ARGV[2]), ARGV[3], 4, {}
for i = 1, prices do
  if newer(KEYS[2 * i - 1], tonumber(ARGV[arg])) then
    redis.call('SET', KEYS[2 * i - 1], ARGV[arg + 1], 'EX', ttl)
    redis.call('SET', KEYS[2 * i], ARGV[arg + 2], 'EX', ttl)
    redis.call('PUBLISH', channel, ARGV[arg + 3] .. ' ' .. ARGV[arg + 1])
    kept[#kept + 1] = i
  end
  arg = arg + 4
end
for k = 2 * prices + 1, #KEYS do
  if newer(KEYS[k], tonumber(ARGV[arg])) then
    redis.call('SET', KEYS[k], ARGV[arg + 1], 'EX', ttl)
  end
  arg = arg + 2
end
return kept
"""

# Lets go of the locks that still hold this holder's token, and only those.
_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
"""


def publish(prices: list[AggregatedPrice], failures: list[RefreshFailure]) -> list[AggregatedPrice]:
    """Keep each price as the latest of its asset, with its rendered document, and each failed
    refresh beside its asset's last good price, in one round trip; return the prices kept.

    A price or failure older than the one Redis holds is dropped: a refresh that outlived its
    lock never replaces a later refresh's answer. Each price kept is announced on
    stream_channel() (see the stream server, aggregation/api/stream.py).
    """
    keys, values = [], []
    for price in prices:
        keys += [_key(f"document:{price.asset}"), _key(f"price:{price.asset}")]
        at, document = epoch_ms(price.aggregated_at), document_of(price)
        values += [at, document, _json(price.to_record()), price.asset]
    for failure in failures:
        keys.append(_key(f"failure:{failure.asset}"))
        document = b"[%d,%s]" % (epoch_ms(failure.at), render_failure(failure))
        values += [epoch_ms(failure.at), document]
    if not keys:
        return []
    ttl = settings.PRICEHUB_CACHE_TTL_SECONDS
    kept = _redis().eval(_PUBLISH, len(keys), *keys, ttl, len(prices), stream_channel(), *values)
    return [prices[index - 1] for index in kept]


def stream_channel() -> str:
    """Return the Redis channel on which every published price is announced."""
    return _key("stream")


def document_of(price: AggregatedPrice) -> bytes:
    """Return price's published document as Redis keeps it: a JSON array of aggregated_at
    and last_updated in epoch ms, the method, then the document."""
    aggregated, updated = epoch_ms(price.aggregated_at), epoch_ms(price.last_updated)
    return b'[%d,%d,"%s",%s]' % (aggregated, updated, price.method.encode(), render_price(price))


def latest_price(symbol: str) -> AggregatedPrice | None:
    """Return the latest price published for symbol, or None."""
    return latest_prices([symbol]).get(symbol)


def latest_prices(symbols: list[str]) -> dict[str, AggregatedPrice]:
    """Return the latest price published for each of symbols that has one, in one round trip."""
    records = _redis().mget([_key(f"price:{symbol}") for symbol in symbols]) if symbols else []
    return {
        symbol: AggregatedPrice.from_record(json.loads(record))
        for symbol, record in zip(symbols, records, strict=True)
        if record is not None
    }


@dataclass(frozen=True, slots=True)
class Published:
    """An asset's latest published document (see document_of) and failed refresh (a JSON
    array of its time in epoch ms and its document), as Redis keeps them."""

    document: bytes | None
    failure: bytes | None


def read_published(
    symbols: list[str], *, also: list[str]
) -> tuple[dict[str, Published], list[bytes | None]]:
    """Return the published documents of symbols, and the values of the keys also names,
    in one round trip."""
    keys = list(also)
    for symbol in symbols:
        keys += [_key(f"document:{symbol}"), _key(f"failure:{symbol}")]
    values = _redis().mget(keys)
    documents = values[len(also) :]
    published = {
        symbol: Published(documents[2 * n], documents[2 * n + 1])
        for n, symbol in enumerate(symbols)
    }
    return published, values[: len(also)]


def unchanged_since(quotes: list[Quote], now: datetime) -> list[datetime]:
    """Return when each quote's venue first gave this very quote (now for a new one), in one
    round trip to read and one to note the new ones."""
    keys = [_key(f"unchanged:{quote.exchange}:{quote.symbol}") for quote in quotes]
    if not keys:
        return []
    since = []
    with _redis().pipeline(transaction=False) as pipe:
        for key, quote, record in zip(keys, quotes, _redis().mget(keys), strict=True):
            # A live market moves the 24 h volume with every trade; a still ticker is stuck.
            fingerprint = f"{quote.price} {quote.bid} {quote.ask} {quote.volume}"
            known = None if record is None else json.loads(record)
            if known is not None and known["fingerprint"] == fingerprint:
                since.append(from_epoch_ms(known["since"]))
                continue
            entry = {"fingerprint": fingerprint, "since": epoch_ms(now)}
            pipe.set(key, json.dumps(entry), ex=_UNCHANGED_TTL)
            since.append(now)
        pipe.execute()
    return since


@contextmanager
def refresh_lock(symbol: str, *, wait_seconds: float = 0) -> Iterator[None]:
    """Hold symbol's refresh lock, shared by every worker and web process.

    Raise RefreshInProgress when another holder keeps it longer than wait_seconds.
    """
    ends = time.monotonic() + wait_seconds
    while True:
        with refresh_locks([symbol]) as held:
            if held:
                yield
                return
        if time.monotonic() >= ends:
            raise RefreshInProgress(f"A refresh of {symbol} is already running.")
        time.sleep(_LOCK_POLL_SECONDS)


@contextmanager
def refresh_locks(symbols: list[str]) -> Iterator[set[str]]:
    """Hold the refresh locks of those symbols that no one else holds; yield them."""
    token = uuid.uuid4().hex
    keys = [_key(f"refresh-lock:{symbol}") for symbol in symbols]
    with _redis().pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.set(key, token, nx=True, px=int(REFRESH_LOCK_SECONDS * 1000))
        taken = pipe.execute()
    held = [key for key, ok in zip(keys, taken, strict=True) if ok]
    try:
        yield {symbol for symbol, ok in zip(symbols, taken, strict=True) if ok}
    finally:
        if held:
            _redis().eval(_RELEASE, len(held), *held, token)


def _redis() -> Redis:
    return get_redis_connection()


def _key(name: str) -> str:
    return cache.make_key(name)


def _json(record: dict[str, Any]) -> str:
    return json.dumps(record, default=str)  # Decimal amounts as their exact text

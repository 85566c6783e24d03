"""PriceHub's published prices in Redis: the latest price of each asset and its document,
refresh failures, refresh locks, and when each venue's quote stood still.

The only module that knows their keys.
"""

from __future__ import annotations

import json
import logging
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
from aggregation.price import AggregatedPrice, RefreshFailure, epoch_ms, from_epoch_ms
from exchanges.quotes import Quote

logger = logging.getLogger(__name__)

# Longer than any refresh can take (the Celery hard time limit), so a crashed holder's
# lock expires on its own.
REFRESH_LOCK_SECONDS = 30
# Far longer than any quote may be old, so a stuck venue keeps its first-seen time.
_UNCHANGED_TTL = 3600


# Lets go of the locks that still hold this holder's token, and only those.
_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
"""


class RefreshInProgress(Exception):
    """Another process is refreshing this asset right now."""


def publish(prices: list[AggregatedPrice], failures: list[RefreshFailure]) -> None:
    """Keep each price as the latest of its asset, with its rendered document, and each failed
    refresh beside its asset's last good price, in one round trip."""
    ttl = settings.PRICEHUB_CACHE_TTL_SECONDS
    with _redis().pipeline(transaction=False) as pipe:
        for price in prices:
            pipe.set(_key(f"price:{price.asset}"), _json(price.to_record()), ex=ttl)
            pipe.set(_key(f"document:{price.asset}"), document_of(price), ex=ttl)
        for failure in failures:
            document = b"[%d,%s]" % (epoch_ms(failure.at), render_failure(failure))
            pipe.set(_key(f"failure:{failure.asset}"), document, ex=ttl)
        pipe.execute()


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
    lock = cache.lock(f"refresh-lock:{symbol}", timeout=REFRESH_LOCK_SECONDS)
    if not lock.acquire(blocking=wait_seconds > 0, blocking_timeout=wait_seconds or None):
        raise RefreshInProgress(f"A refresh of {symbol} is already running.")
    try:
        yield
    finally:
        lock.release()


@contextmanager
def refresh_locks(symbols: list[str]) -> Iterator[set[str]]:
    """Hold the refresh locks of those symbols that no one else holds; yield them."""
    token = uuid.uuid4().hex
    keys = [_key(f"refresh-lock:{symbol}") for symbol in symbols]
    with _redis().pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.set(key, token, nx=True, px=REFRESH_LOCK_SECONDS * 1000)
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

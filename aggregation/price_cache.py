"""PriceHub's state in Redis: latest prices and their documents, refresh failures and locks,
request counts and promotions.

The only module that knows their keys.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django_redis import get_redis_connection
from redis import Redis
from redis.exceptions import RedisError

from aggregation.documents import render_failure, render_price
from aggregation.price import AggregatedPrice, RefreshFailure, epoch_ms, from_epoch_ms
from exchanges.quotes import Quote

logger = logging.getLogger(__name__)

# Longer than any refresh can take (the Celery hard time limit), so a crashed holder's
# lock expires on its own.
REFRESH_LOCK_SECONDS = 30
# Far longer than any quote may be old, so a stuck venue keeps its first-seen time.
_UNCHANGED_TTL = 3600
_REQUESTS = "requests"
_PROMOTED = "promoted"
_ASSETS_VERSION = "assets-version"

# This process's reads since the last flush to Redis.
_demand: Counter[str] = Counter()
_demand_lock = threading.Lock()
_demand_flushed = 0.0


class RefreshInProgress(Exception):
    """Another process is refreshing this asset right now."""


def store(price: AggregatedPrice) -> None:
    """Publish price as the latest of its asset: its record and its rendered document."""
    ttl = settings.PRICEHUB_CACHE_TTL_SECONDS
    with _redis().pipeline(transaction=False) as pipe:
        pipe.set(_key(f"price:{price.asset}"), _json(price.to_record()), ex=ttl)
        pipe.set(_key(f"document:{price.asset}"), document_of(price), ex=ttl)
        pipe.execute()


def document_of(price: AggregatedPrice) -> bytes:
    """Return price's published document as Redis keeps it: a JSON array of aggregated_at
    and last_updated in epoch ms, the method, then the document."""
    aggregated, updated = epoch_ms(price.aggregated_at), epoch_ms(price.last_updated)
    return b'[%d,%d,"%s",%s]' % (aggregated, updated, price.method.encode(), render_price(price))


def latest_price(symbol: str) -> AggregatedPrice | None:
    """Return the latest price published for symbol, or None."""
    record = _redis().get(_key(f"price:{symbol}"))
    return None if record is None else AggregatedPrice.from_record(json.loads(record))


def store_failure(failure: RefreshFailure) -> None:
    """Remember why the latest refresh of an asset published nothing."""
    document = b"[%d,%s]" % (epoch_ms(failure.at), render_failure(failure))
    _redis().set(_key(f"failure:{failure.asset}"), document, ex=settings.PRICEHUB_CACHE_TTL_SECONDS)


@dataclass(frozen=True, slots=True)
class Published:
    """An asset's latest published document (see document_of) and failed refresh (a JSON
    array of its time in epoch ms and its document), as Redis keeps them."""

    document: bytes | None
    failure: bytes | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a read of some assets needs from Redis, read at once."""

    published: dict[str, Published]
    promoted: frozenset[str]  # every symbol promoted to hot by demand
    assets_version: bytes  # changes whenever an asset's configuration does


def read_published(symbols: list[str]) -> Snapshot:
    """Return the published documents of symbols, the promotions and the assets version,
    in one round trip."""
    keys = [_key(_PROMOTED), _key(_ASSETS_VERSION)]
    for symbol in symbols:
        keys += [_key(f"document:{symbol}"), _key(f"failure:{symbol}")]
    promoted, version, *documents = _redis().mget(keys)
    published = {
        symbol: Published(documents[2 * n], documents[2 * n + 1])
        for n, symbol in enumerate(symbols)
    }
    return Snapshot(published, frozenset(json.loads(promoted or b"[]")), version or b"0")


def assets_changed() -> None:
    """Tell every process that the asset configuration changed."""
    _redis().incr(_key(_ASSETS_VERSION))


def unchanged_since(quote: Quote, now: datetime) -> datetime:
    """Return when quote's venue first gave this very quote, now if it is new."""
    key = f"unchanged:{quote.exchange}:{quote.symbol}"
    # A live market moves the 24 h volume with every trade; a still ticker is a stuck one.
    fingerprint = f"{quote.price} {quote.bid} {quote.ask} {quote.volume}"
    record = cache.get(key)
    if record is not None and record["fingerprint"] == fingerprint:
        return from_epoch_ms(record["since"])
    cache.set(key, {"fingerprint": fingerprint, "since": epoch_ms(now)}, _UNCHANGED_TTL)
    return now


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


def claim_refresh(symbol: str, interval_seconds: float) -> bool:
    """Return True at most once per interval for symbol, across every beat and host."""
    return bool(cache.add(f"refresh-claim:{symbol}", 1, interval_seconds))


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
    """Mark the count most requested symbols as promoted, halve all counts; return them."""
    flush_requests()
    redis = _redis()
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


def _json(record: dict[str, Any]) -> str:
    return json.dumps(record, default=str)  # Decimal amounts as their exact text

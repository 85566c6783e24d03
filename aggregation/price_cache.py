"""PriceHub's state in Redis: latest prices, refresh failures and locks, request counts.

The only module that knows the keys.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django_redis import get_redis_connection
from redis.exceptions import RedisError

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


class RefreshInProgress(Exception):
    """Another process is refreshing this asset right now."""


def store(price: AggregatedPrice) -> None:
    """Keep price as the latest of its asset."""
    cache.set(f"price:{price.asset}", price.to_record(), settings.PRICEHUB_CACHE_TTL_SECONDS)


@dataclass(frozen=True, slots=True)
class Cached:
    """What a read of one asset needs from Redis."""

    price: AggregatedPrice | None
    failure: RefreshFailure | None  # the latest failed refresh
    promoted: frozenset[str]  # every symbol promoted to hot by demand


def load_cached(symbol: str) -> Cached:
    """Return symbol's latest price and failed refresh, and the promoted symbols, at once."""
    found = cache.get_many([f"price:{symbol}", f"failure:{symbol}", _PROMOTED])
    price = found.get(f"price:{symbol}")
    failure = found.get(f"failure:{symbol}")
    return Cached(
        price=None if price is None else AggregatedPrice.from_record(price),
        failure=None if failure is None else RefreshFailure.from_record(failure),
        promoted=frozenset(found.get(_PROMOTED, ())),
    )


def store_failure(failure: RefreshFailure) -> None:
    """Remember why the latest refresh of an asset published nothing."""
    key = f"failure:{failure.asset}"
    cache.set(key, failure.to_record(), settings.PRICEHUB_CACHE_TTL_SECONDS)


def last_recorded(symbol: str) -> AggregatedPrice | None:
    """Return symbol's newest history point, as far as Redis knows."""
    record = cache.get(f"recorded:{symbol}")
    return None if record is None else AggregatedPrice.from_record(record)


def mark_recorded(price: AggregatedPrice) -> None:
    """Note that price is now the newest point of its asset's history."""
    cache.set(f"recorded:{price.asset}", price.to_record(), settings.PRICEHUB_CACHE_TTL_SECONDS)


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


def count_request(symbol: str) -> None:
    """Count one read of symbol's price; losing a count to a Redis hiccup is harmless."""
    try:
        get_redis_connection().zincrby(cache.make_key(_REQUESTS), 1, symbol)
    except RedisError:
        logger.warning("Could not count a request for %s", symbol)


def promote_most_requested(count: int) -> list[str]:
    """Mark the count most requested symbols as promoted, halve all counts; return them."""
    redis = get_redis_connection()
    key = cache.make_key(_REQUESTS)
    top = [member.decode() for member in redis.zrevrange(key, 0, count - 1)]
    # Halving keeps recent demand weighing most; ZUNIONSTORE onto itself rescales in place.
    redis.zunionstore(key, {key: 0.5})
    redis.zremrangebyscore(key, "-inf", 0.5)
    cache.set(_PROMOTED, top, settings.PRICEHUB_PROMOTION_SECONDS * 2)
    return top


def promoted() -> frozenset[str]:
    """Return the symbols currently promoted to hot by demand."""
    return frozenset(cache.get(_PROMOTED) or ())

"""The latest price of each asset in Redis. The only module that knows its keys."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from aggregation.price import AggregatedPrice


def store(price: AggregatedPrice) -> None:
    """Keep price as the latest of its asset."""
    cache.set(_price_key(price.asset), price.to_record(), settings.PRICEHUB_CACHE_TTL_SECONDS)


def load(symbol: str) -> AggregatedPrice | None:
    """Return the latest price of symbol, or None when Redis has none (or is unreachable)."""
    record = cache.get(_price_key(symbol))
    return None if record is None else AggregatedPrice.from_record(record)


def claim_refresh(symbol: str, interval_seconds: float) -> bool:
    """Return True at most once per interval for symbol, across every beat and host."""
    return bool(cache.add(f"refresh-claim:{symbol}", 1, interval_seconds))


def _price_key(symbol: str) -> str:
    return f"price:{symbol}"

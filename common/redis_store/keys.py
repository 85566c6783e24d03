"""Every name PriceHub gives a Redis key or channel, under the cache's prefix and version
(settings.CACHES KEY_PREFIX), so two PriceHubs may share one Redis."""

from __future__ import annotations

from django.core.cache import cache


def _named(name: str) -> str:
    return cache.make_key(name)


# The published prices (aggregation.price_cache).


def document(symbol: str) -> str:
    """The asset's latest published document, as the reads splice it."""
    return _named(f"document:{symbol}")


def price(symbol: str) -> str:
    """The asset's latest price, as a record (AggregatedPrice.to_record)."""
    return _named(f"price:{symbol}")


def failure(symbol: str) -> str:
    """The asset's last failed refresh, kept beside its last good price."""
    return _named(f"failure:{symbol}")


def published_at() -> str:
    """Sorted set: symbol -> the aggregation time (epoch ms) of its latest published price."""
    return _named("published-at")


def failed_at() -> str:
    """Sorted set: symbol -> the time (epoch ms) of its latest failed refresh."""
    return _named("failed-at")


def refresh_lock(symbol: str) -> str:
    """The lock a refresh of the asset holds, shared by every process."""
    return _named(f"refresh-lock:{symbol}")


def refresh_ended(token: str) -> str:
    """List: an entry once the round of the refresh lock holder with this token has ended."""
    return _named(f"refresh-ended:{token}")


def unchanged(exchange: str, symbol: str) -> str:
    """A venue's last quote of an asset and since when it has not moved."""
    return _named(f"unchanged:{exchange}:{symbol}")


def stream_channel() -> str:
    """The channel on which every published price is announced."""
    return _named("stream")


# The schedule (aggregation.scheduling).


def due() -> str:
    """Sorted set: symbol -> when it is next due, epoch seconds."""
    return _named("due")


def due_intervals() -> str:
    """Hash: symbol -> its refresh interval, seconds."""
    return _named("due-intervals")


def due_synced() -> str:
    """What the due set was last synced to."""
    return _named("due-synced")


def requests() -> str:
    """Sorted set: symbol -> its reads of late."""
    return _named("requests")


def promoted() -> str:
    """The symbols that demand promoted to hot."""
    return _named("promoted")


def promoting() -> str:
    """Held for most of a promotion period by the beat that promoted."""
    return _named("promoting")


def assets_version() -> str:
    """A counter that moves with every change to the asset configuration."""
    return _named("assets-version")


# The recent history and the points waiting for DynamoDB (aggregation.recent).


def history_pending() -> str:
    """Stream: prices waiting to be recorded in history, oldest first, one an entry."""
    return _named("history-pending")


def history_draining() -> str:
    """The lock of the one process storing the waiting prices."""
    return _named("history-draining")


def history_memo(symbol: str) -> str:
    """The asset's last stored point and the candles it was folded into."""
    return _named(f"history-memo:{symbol}")


def history_writing(symbol: str) -> str:
    """Set while the asset's points are on their way to DynamoDB."""
    return _named(f"history-writing:{symbol}")


def recent_points(symbol: str) -> str:
    """List: the asset's newest points, newest first."""
    return _named(f"history-recent-points:{symbol}")


def recent_candles(symbol: str, interval: str) -> str:
    """List: the asset's newest candles of an interval, newest first."""
    return _named(f"history-recent:{symbol}#{interval}")


# The venues (exchanges.health).


def circuit(name: str) -> str:
    """The namespace of a venue's circuit breaker state."""
    return _named(f"circuit:{name}")


def venue_requests(name: str) -> str:
    """List: a venue's latest requests, newest first."""
    return _named(f"venue:{name}:requests")


def venue_last(name: str) -> str:
    """Hash: when a venue last answered, and its last error."""
    return _named(f"venue:{name}:last")


def venue_wait(name: str) -> str:
    """Until when no call is made to a venue, and why: what it asked (exchanges.limits)."""
    return _named(f"venue:{name}:wait")


def venue_limits(name: str) -> str:
    """Hash: how many calls a venue refused for its limit, and PriceHub held back."""
    return _named(f"venue:{name}:limits")


def venue_budgets() -> str:
    """The prefix of the venues' budgets, moving windows kept by the limits library."""
    return _named("venue-budget")

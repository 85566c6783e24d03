"""PriceHub's one door to Redis: its connections, and what an outage means to each caller.

Every key and channel name is in keys.py, every Lua script in scripts.py; no other module
opens a client, builds a key or holds a script. What the values mean stays with the modules
that keep them (aggregation.price_cache, scheduling, recent; exchanges.health).

Error policy. Redis is *unavailable* when it cannot answer now: down or unreachable, too
slow, still loading, out of memory, read-only or failing over (UNAVAILABLE). Any other Redis
error (a wrong type, a script's bug) is PriceHub's own bug and is raised as it is. Callers
see an outage by their kind:
- a read with a fallback falls back and logs a warning (a price from the history, the recent
  history from DynamoDB, a venue's circuit kept in this process);
- a read without one raises: the API's edge answers 503 `unavailable` (common.errors);
- a write that matters raises to its caller: a refresh turns it into its Unavailable error,
  a task's next run tries again;
- a best-effort write (demand counts, venue samples, the recent history, the notice of an
  asset change) logs a warning and goes on: best_effort().
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django_redis import get_redis_connection
from limits.storage import RedisStorage
from redis import ConnectionPool, Redis
from redis import asyncio as aioredis
from redis.exceptions import (
    ClusterDownError,
    ConnectionError,
    OutOfMemoryError,
    ReadOnlyError,
    TimeoutError,
    TryAgainError,
)

from common.redis_store import keys

logger = logging.getLogger(__name__)
T = TypeVar("T")
_made: dict[tuple[int, Hashable], tuple[object, Any]] = {}  # by connection pool and purpose

# Redis cannot answer now; BusyLoadingError (still loading) is a ConnectionError.
UNAVAILABLE: tuple[type[Exception], ...] = (
    ConnectionError,
    TimeoutError,
    OutOfMemoryError,
    ReadOnlyError,
    ClusterDownError,
    TryAgainError,
)


def connection() -> Redis:
    """Return the client of PriceHub's Redis, shared by the process (django-redis's pool)."""
    return get_redis_connection()


def budgets() -> RedisStorage:
    """Return the moving windows of the venues' budgets (exchanges.limits), kept by the limits
    library in PriceHub's Redis under keys.venue_budgets()."""
    return _of_pool(
        "budgets",
        lambda pool: RedisStorage(
            "redis://", connection_pool=pool, key_prefix=keys.venue_budgets()
        ),
    )


def blocking(seconds: float) -> Redis:
    """Return a client of PriceHub's Redis for a command that blocks up to seconds: it waits
    that much longer for an answer than connection() does. Shared by the process."""

    def make(pool: ConnectionPool) -> Redis:
        timeout = (pool.connection_kwargs.get("socket_timeout") or 0) + seconds
        kwargs = {**pool.connection_kwargs, "socket_timeout": timeout}
        own = ConnectionPool(connection_class=pool.connection_class, **kwargs)
        return Redis(connection_pool=own)

    return _of_pool(("blocking", seconds), make)


def _of_pool(what: Hashable, make: Callable[[ConnectionPool], T]) -> T:
    """Return what make() made of the process's pool, made once a pool (a test changes it)."""
    pool = connection().connection_pool
    found = _made.get((id(pool), what))
    if found is None or found[0] is not pool:
        found = _made[id(pool), what] = (pool, make(pool))
    return found[1]


def ping() -> None:
    """Ping Redis; raise when it does not answer (the cache's IGNORE_EXCEPTIONS would hide it)."""
    connection().ping()


async def announcements() -> AsyncIterator[bytes]:
    """Yield every message announced on the stream channel (keys.stream_channel()) from now
    on, on a connection of its own; raise when Redis is lost."""
    cache = settings.CACHES["default"]
    # No socket timeout: a quiet channel is no outage.
    connect_timeout = cache.get("OPTIONS", {}).get("SOCKET_CONNECT_TIMEOUT")
    client = aioredis.Redis.from_url(cache["LOCATION"], socket_connect_timeout=connect_timeout)
    async with client, client.pubsub() as pubsub:
        await pubsub.subscribe(keys.stream_channel())
        async for message in pubsub.listen():
            if message["type"] == "message":
                yield message["data"]


@contextmanager
def best_effort(what: str) -> Iterator[None]:
    """Run what may be skipped while Redis is unavailable: log a warning and go on."""
    try:
        yield
    except UNAVAILABLE as exc:
        logger.warning("Redis unavailable, went on without %s: %s", what, exc)

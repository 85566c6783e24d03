"""PriceHub's published prices in Redis: the latest price of each asset and its document,
refresh failures, refresh locks and the end of each round that held one, and when each
venue's quote stood still.

Their keys and scripts are in common.redis_store, their formats in aggregation.codec.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

from django.conf import settings

from aggregation import codec
from aggregation.price import (
    AggregatedPrice,
    RefreshFailure,
    RefreshInProgress,
    epoch_ms,
    from_epoch_ms,
)
from common import redis_store
from common.redis_store import keys, scripts
from exchanges.quotes import Quote

T = TypeVar("T")
# A round's end stays marked long after anyone who saw its lock begins to wait for it.
_ENDED_MS = 10_000
# Far longer than any quote may be old, so a stuck venue keeps its first-seen time.
_UNCHANGED_TTL = 3600


def publish(prices: list[AggregatedPrice], failures: list[RefreshFailure]) -> list[AggregatedPrice]:
    """Keep each price as the latest of its asset, with its rendered document, and each failed
    refresh beside its asset's last good price, in one round trip; return the prices kept.

    A price or failure older than the one Redis holds is dropped: a refresh that outlived its
    lock never replaces a later refresh's answer. Each price kept is announced on the stream
    channel (see the stream server, aggregation/api/stream.py).
    """
    if not prices and not failures:
        return []
    kept = scripts.publish(
        [
            scripts.Published(
                price.asset,
                epoch_ms(price.aggregated_at),
                codec.encode_published(price),
                codec.encode_record(price),
            )
            for price in prices
        ],
        [
            scripts.Failed(failure.asset, epoch_ms(failure.at), codec.encode_failure(failure))
            for failure in failures
        ],
        ttl=settings.PRICEHUB_CACHE_TTL_SECONDS,
    )
    return [prices[index - 1] for index in kept]


def latest_price(symbol: str) -> AggregatedPrice | None:
    """Return the latest price published for symbol, or None."""
    return latest_prices([symbol]).get(symbol)


def latest_prices(symbols: list[str]) -> dict[str, AggregatedPrice]:
    """Return the latest price published for each of symbols that has one, in one round trip."""
    records = redis_store.connection().mget([keys.price(s) for s in symbols]) if symbols else []
    found = {
        symbol: _decoded(codec.decode_record, record)
        for symbol, record in zip(symbols, records, strict=True)
    }
    return {symbol: price for symbol, price in found.items() if price is not None}


def latest_prices_failed(symbols: list[str]) -> dict[str, tuple[AggregatedPrice, datetime | None]]:
    """Return the latest price published for each of symbols that has one, with when a
    refresh of it failed since, if one did; in one round trip."""
    names = [key for symbol in symbols for key in (keys.price(symbol), keys.failure(symbol))]
    values = redis_store.connection().mget(names) if symbols else []
    found: dict[str, tuple[AggregatedPrice, datetime | None]] = {}
    for n, symbol in enumerate(symbols):
        price = _decoded(codec.decode_record, values[2 * n])
        failure = _decoded(codec.decode_failure, values[2 * n + 1])
        if price is None:
            continue
        failed = failure is not None and failure.newer_than(epoch_ms(price.aggregated_at))
        found[symbol] = (price, from_epoch_ms(failure.at_ms) if failed else None)
    return found


# An asset's latest published price and failed refresh, each when there is one.
Found = tuple[codec.PublishedPrice | None, codec.PublishedFailure | None]


def read_published(
    symbols: list[str], *, also: list[str]
) -> tuple[dict[str, Found], list[bytes | None]]:
    """Return the published prices and failures of symbols, and the values of the keys also
    names, in one round trip."""
    names = list(also)
    for symbol in symbols:
        names += [keys.document(symbol), keys.failure(symbol)]
    values = redis_store.connection().mget(names)
    kept = values[len(also) :]
    published = {
        symbol: (
            _decoded(codec.decode_published, kept[2 * n]),
            _decoded(codec.decode_failure, kept[2 * n + 1]),
        )
        for n, symbol in enumerate(symbols)
    }
    return published, values[: len(also)]


def unchanged_since(quotes: list[Quote], now: datetime) -> list[datetime]:
    """Return when each quote's venue first gave this very quote (now for a new one), in one
    round trip to read and one to note the new ones."""
    names = [keys.unchanged(quote.exchange, quote.symbol) for quote in quotes]
    if not names:
        return []
    since = []
    redis = redis_store.connection()
    with redis.pipeline(transaction=False) as pipe:
        for key, quote, value in zip(names, quotes, redis.mget(names), strict=True):
            # A live market moves the 24 h volume with every trade; a still ticker is stuck.
            seen = (quote.price, quote.bid, quote.ask, quote.volume)
            known = _decoded(codec.decode_unchanged, value)
            if known is not None and known[0] == seen:
                since.append(from_epoch_ms(known[1]))
                continue
            pipe.set(key, codec.encode_unchanged(seen, epoch_ms(now)), ex=_UNCHANGED_TTL)
            since.append(now)
        pipe.execute()
    return since


@contextmanager
def refresh_lock(symbol: str, *, wait_seconds: float = 0) -> Iterator[bool]:
    """Hold symbol's refresh lock, shared by every worker and web process, and yield True; or,
    while another holds it, wait for the end of its round (wait_seconds at most) and yield
    False, holding nothing: by then that round has published what it made.

    Raise RefreshInProgress when the other round does not end within wait_seconds.
    """
    token = uuid.uuid4().hex
    key, expires_ms = keys.refresh_lock(symbol), _lock_ms()
    # One step: take the lock, or learn whose round holds it.
    holder = redis_store.connection().set(key, token, nx=True, px=expires_ms, get=True)
    if holder is None:
        try:
            yield True
        finally:
            scripts.release_locks([symbol], token, ended_ms=_ENDED_MS)
        return
    ended = keys.refresh_ended(holder.decode())
    # Moving the list's one entry onto itself waits for it without taking it from the others.
    if wait_seconds <= 0 or not redis_store.blocking(wait_seconds).blmove(
        ended, ended, wait_seconds, "RIGHT", "LEFT"
    ):
        raise RefreshInProgress(f"A refresh of {symbol} is already running.")
    yield False


@contextmanager
def refresh_locks(symbols: list[str]) -> Iterator[set[str]]:
    """Hold the refresh locks of those symbols that no one else holds; yield them."""
    token, expires_ms = uuid.uuid4().hex, _lock_ms()
    with redis_store.connection().pipeline(transaction=False) as pipe:
        for symbol in symbols:
            pipe.set(keys.refresh_lock(symbol), token, nx=True, px=expires_ms)
        taken = pipe.execute()
    held = [symbol for symbol, ok in zip(symbols, taken, strict=True) if ok]
    try:
        yield set(held)
    finally:
        if held:
            scripts.release_locks(held, token, ended_ms=_ENDED_MS)


def _lock_ms() -> int:
    return int(settings.PRICEHUB_REFRESH_LOCK_SECONDS * 1000)


def _decoded(decode: Callable[[bytes], T], value: bytes | None) -> T | None:
    # A value kept by an older version counts as none: the next refresh replaces it.
    try:
        return None if value is None else decode(value)
    except codec.Undecodable:
        return None

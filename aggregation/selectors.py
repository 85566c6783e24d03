"""The reads of the latest prices: one asset's, a batch's, a stream's first and each one
published after; and the reads of the assets configured.

A read of the latest prices costs one Redis round trip (MGET), or none while this process's
copy is younger than settings.PRICEHUB_READ_COPY_SECONDS (aggregation.copies); the document
itself was rendered when the refresh published it, and a read adds only `tier`, `stale` and
`age_seconds`. A read that cannot be answered raises a ReadError (common.read_errors).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import time
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db.models import Q

from aggregation import codec, copies, price_cache, scheduling
from aggregation.aggregate import recombine
from aggregation.codec import PublishedFailure, PublishedPrice
from aggregation.copies import AssetInfo
from aggregation.documents import render_batch, render_reading
from aggregation.history import reads
from aggregation.methods import METHODS
from aggregation.models import Asset
from aggregation.price import AggregatedPrice
from aggregation.price_cache import Found
from common import redis_store
from common.metrics import PRICE_AGE_SECONDS, PRICE_READS, count, observe_many
from common.read_errors import InvalidRead, NoPrice, ReadError, UnknownSymbol
from exchanges.models import Market

logger = logging.getLogger(__name__)

# ASCII letters and digits, checked before any change of case.
_SYMBOL_RE = re.compile(r"[A-Za-z0-9]{2,20}")
MAX_BATCH = 50


@dataclass(slots=True)  # not frozen: made per price read, and frozen costs at each creation
class Reading:
    """One asset's price document, ready to send."""

    body: bytes
    # What the client holds changes with a new aggregation, another method, a new failure or
    # the price turning stale; the age alone does not.
    version: tuple[str, str, int, int | str, bool]
    max_age: int  # seconds a client may keep it: the tier's interval
    tier: str
    age: float  # seconds since the price's last_updated
    cached: bool  # found in Redis, not in the history

    @property
    def symbol(self) -> str:
        return self.version[0]

    @property
    def etag(self) -> str:
        symbol, method, aggregated_ms, failed_ms, stale = self.version
        return f'W/"{symbol}-{method}-{aggregated_ms}-{failed_ms}{"-stale" if stale else ""}"'


@dataclass(frozen=True, slots=True)
class BatchReading:
    """Several assets' price documents and errors, ready to send."""

    body: bytes
    etag: str
    max_age: int  # the shortest of its prices' lifetimes
    symbols: list[str]  # the assets whose prices it holds


def asset_known(raw: str) -> AssetInfo:
    """Return the enabled asset raw names, in any case; raise InvalidRead or UnknownSymbol."""
    symbol = _symbol(raw)
    asset = copies.assets().get(symbol)
    if asset is None:
        raise UnknownSymbol("unknown_asset", f"PriceHub does not price {symbol}.")
    return asset


def asset_list(
    *,
    limit: int,
    after: str | None = None,
    tier: str | None = None,
    venue: str | None = None,
    text: str | None = None,
    enabled: bool | None = None,
) -> list[Asset]:
    """Return up to limit assets in symbol order after the symbol `after`, of a tier, with a
    market of their base on a venue (delisted aside), whose symbol or base holds text."""
    # Keyset paging on the symbol's unique index: a page costs the same at any depth.
    given = {"symbol__gt": after, "tier": tier, "enabled": enabled}
    assets = Asset.objects.order_by("symbol").filter(
        **{field: value for field, value in given.items() if value is not None}
    )
    if text:  # symbols and bases are stored upper-case
        assets = assets.filter(Q(symbol__contains=text.upper()) | Q(base__contains=text.upper()))
    if venue is not None:
        # Its bases read once: SQLite ran an EXISTS per asset over all its markets (0.6 s).
        markets = Market.objects.filter(exchange__name=venue).exclude(status=Market.Status.DELISTED)
        assets = assets.filter(base__in=markets.values("base"))
    return list(assets[:limit])


def price_reading(*, symbol: str, method: str | None = None) -> Reading:
    """Return the latest price document of one enabled asset; raise a ReadError."""
    upper = _symbol(symbol)
    if method is not None and method not in METHODS:
        detail = f"method is one of: {', '.join(METHODS)}."
        raise InvalidRead("invalid_method", detail, methods=[*METHODS])
    known, published, promoted = copies.latest([upper])
    if upper not in known:
        raise UnknownSymbol("unknown_asset", f"PriceHub does not price {upper}.")
    asset = known[upper]
    reading = _finish(asset, published[upper], promoted, method or asset.method, _Policy())
    _observe([reading])
    return reading


def prices_reading(*, symbols: list[str]) -> BatchReading:
    """Return the documents of the enabled assets among symbols, and why each other one
    could not be served, in order; raise InvalidRead for a malformed batch."""
    wanted = _batch(symbols)
    known, published, promoted = copies.latest([name for name, valid in wanted.items() if valid])
    policy = _Policy()
    readings, failures = [], []
    for name in wanted:
        try:
            if name not in known:
                asset_known(name)  # raises the 400 or 404 it deserves
            asset = known[name]
            readings.append(_finish(asset, published[name], promoted, asset.method, policy))
        except ReadError as exc:
            failures.append({"asset": name, "error": exc.code, "detail": exc.detail})
    _observe(readings)
    body = render_batch([reading.body for reading in readings], failures)
    # The batch changes when one of its prices or errors does; the ages alone do not.
    version = repr([[reading.version for reading in readings], failures]).encode()
    etag = f'W/"{hashlib.md5(version, usedforsecurity=False).hexdigest()}"'
    max_age = min((reading.max_age for reading in readings), default=1)
    return BatchReading(body, etag, max_age, [reading.symbol for reading in readings])


def stream_assets(symbols: list[str]) -> list[str]:
    """Return the enabled assets a stream names, each once, upper-cased; raise a ReadError as
    the batch endpoint refuses a batch, or for the first name not an enabled asset."""
    return [asset_known(name).symbol for name in _batch(symbols)]


def price_document(price: AggregatedPrice) -> bytes:
    """Return the document of a price just published."""
    return published_reading(codec.published(price), method=price.method).body


def published_reading(published: PublishedPrice, *, method: str | None = None) -> Reading:
    """Return what GET /prices/{asset} answers for a price just published, by method
    (default: the asset's)."""
    symbol = published.asset
    asset = copies.assets().get(symbol) or AssetInfo(symbol, "medium", method or "vwap")
    found = (published, None)
    reading = _finish(asset, found, scheduling.promoted(), method or asset.method, _Policy())
    _observe([reading])
    return reading


def _batch(symbols: list[str]) -> dict[str, bool]:
    # The names of a batch, each once, upper-cased when well formed, and whether each is;
    # raise InvalidRead for no name or too many.
    names = [name.strip() for name in symbols if name.strip()]
    if not names:
        raise InvalidRead("invalid_request", "Give assets=BTCUSDT,ETHUSDT,...")
    if len(names) > MAX_BATCH:
        raise InvalidRead("too_many_assets", f"Ask for at most {MAX_BATCH} assets at once.")
    wanted: dict[str, bool] = {}
    for name in names:
        valid = _SYMBOL_RE.fullmatch(name) is not None
        wanted.setdefault(name.upper() if valid else name, valid)
    return wanted


def _symbol(raw: str) -> str:
    if not _SYMBOL_RE.fullmatch(raw):
        detail = "An asset is 2-20 letters or digits, base then quote: BTCUSDT."
        raise InvalidRead("invalid_asset", detail)
    return raw.upper()


def _finish(
    asset: AssetInfo, found: Found, promoted: frozenset[str], method: str, policy: _Policy
) -> Reading:
    """Return the document of asset's latest price by method, as a read at this moment sees it."""
    latest, failure = found
    cached = latest is not None
    if latest is None:
        price = _from_history(asset.symbol, failure)
        if price.method != method:
            price = _priced_by(price, method)
        latest = codec.published(price)
    elif latest.method != method:
        latest = codec.published(_priced_by(_latest_price(asset.symbol), method))
    # A failure newer than the price shown says why its refreshes fail.
    failed = failure if failure is not None and failure.newer_than(latest.aggregated_ms) else None
    tier = scheduling.asset_tier(asset, promoted)
    stale_after, max_age = policy.tiers[tier]
    age = max(policy.now_ms - latest.updated_ms, 0) / 1000
    stale = failed is not None or age > stale_after
    body = render_reading(
        latest.document,
        tier=tier,
        stale=stale,
        age_seconds=round(age, 3),
        failure=None if failed is None else failed.document,
    )
    version = (
        asset.symbol,
        method,
        latest.aggregated_ms,
        "" if failed is None else failed.at_ms,
        stale,
    )
    return Reading(body, version, max_age, tier, age, cached)


class _Policy:
    """What a read applies: the time, and each tier's policy (tier_policy)."""

    def __init__(self) -> None:
        self.now_ms = time.time() * 1000
        self.tiers = tier_policy()


@functools.cache
def tier_policy() -> dict[str, tuple[float, int]]:
    """Return per tier the age in seconds past which a price is stale and the seconds a client
    may keep it (its interval): worked out from the settings once, again when one changes."""
    floor = settings.PRICEHUB_STALE_FLOOR_SECONDS
    intervals = settings.PRICEHUB_STALE_AFTER_INTERVALS
    return {
        tier: (max(floor, intervals * seconds), max(1, int(seconds)))
        for tier, seconds in settings.PRICEHUB_TIER_SECONDS.items()
    }


setting_changed.connect(lambda **kwargs: tier_policy.cache_clear(), weak=False)


def _observe(readings: list[Reading]) -> None:
    # A batch costs a few metric writes, not a few per price.
    if hits := sum(reading.cached for reading in readings):
        count(_CACHE_HIT, hits)
    ages: dict[str, list[float]] = {}
    for reading in readings:
        ages.setdefault(reading.tier, []).append(reading.age)
    for tier, values in ages.items():
        observe_many(_age_seconds(tier), values)


_CACHE_HIT = PRICE_READS.labels("cache")


@functools.cache
def _age_seconds(tier: str) -> Any:
    return PRICE_AGE_SECONDS.labels(tier)


def _from_history(symbol: str, failure: PublishedFailure | None) -> AggregatedPrice:
    """Return symbol's newest history point; raise NoPrice when there is none."""
    price = copies.history_latest(symbol)
    PRICE_READS.labels("nowhere" if price is None else "history").inc()
    if price is None:
        why = "" if failure is None else f" The last refresh failed: {failure.detail}"
        raise NoPrice("no_price", f"No price for {symbol} is available yet.{why}")
    return price


def _priced_by(price: AggregatedPrice, method: str) -> AggregatedPrice:
    """Return price recomputed by another method from the quotes it used."""
    try:
        return replace(price, price=recombine(price.used, method), method=method)
    except ValueError as exc:
        raise NoPrice("no_price", f"No {method} for {price.asset}: {exc}.") from exc


def _latest_price(symbol: str) -> AggregatedPrice:
    price = None
    with redis_store.best_effort(f"the latest price of {symbol}"):
        price = price_cache.latest_price(symbol)
    if price is None:
        price = reads.latest(symbol)
    if price is None:
        raise NoPrice("no_price", f"No price for {symbol} is available yet.")
    return price

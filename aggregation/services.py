"""The refresh: fetch every venue, aggregate, keep the latest in Redis, hand it to history.

One asset (POST /refresh, the admin, manage.py refresh) or many at once (the beat's batches):
either way each venue is asked once for every asset, in as few calls as it allows
(aggregation/collect.py), each asset is aggregated on its own (the rates first, so that the
others convert at the rates of the same moment), and the prices are published in one Redis
round trip, then handed to the history backlog, which its own worker records: a refresh never
waits on DynamoDB. A refresh on demand (POST /refresh) shares: a price younger than
REFRESH_FRESH_SECONDS is its answer, and calls for an asset being refreshed wait for that
round's price instead of starting another.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings

from aggregation import conversion, price_cache
from aggregation.aggregate import NoQuorum, aggregate
from aggregation.collect import at_rates, quotes_collect
from aggregation.history import backlog
from aggregation.models import Asset
from aggregation.price import (
    AggregatedPrice,
    RefreshError,
    RefreshFailure,
    RoundNoQuorum,
    Source,
    Unavailable,
    UnknownAsset,
    epoch_ms,
)
from common.errors import BACKEND_ERRORS, service_name
from common.metrics import QUOTES_EXCLUDED, REFRESH_SECONDS
from exchanges.client import own_timeouts
from exchanges.models import Exchange


def price_refresh(*, symbol: str) -> AggregatedPrice:
    """Fetch, aggregate and cache the price of one enabled asset, and hand it to history;
    return it.

    Raise a RefreshError: UnknownAsset, RefreshInProgress (another refresh of it is running),
    NoQuorum (the last good price stays in place and the failure is kept beside it) or
    Unavailable.
    """
    with _services():
        asset = _enabled(symbol)
        with price_cache.refresh_lock(asset.symbol):
            return _refresh_one(asset)


class Refreshed(NamedTuple):
    """A price on demand, and whether it was reused: made by an earlier or a concurrent round,
    without asking any venue for this call."""

    price: AggregatedPrice
    reused: bool


def price_refresh_shared(*, symbol: str, fresh_seconds: float, wait_seconds: float) -> Refreshed:
    """Return the latest price of one enabled asset while younger than fresh_seconds; else the
    first price published after it: refresh as price_refresh does or, while another process
    refreshes the asset, wait for the end of its round (wait_seconds at most). Concurrent calls
    share one round of calls to the venues.

    Raise what price_refresh raises; RefreshInProgress when the other round outlasts
    wait_seconds; when it published no price, RoundNoQuorum, its own NoQuorum as it kept it, or
    RefreshError when it kept none (a store failed under it).
    """
    with _services():
        asset = _enabled(symbol)
        found = price_cache.latest_price(asset.symbol)
        fresh = timedelta(seconds=fresh_seconds)
        if found is not None and datetime.now(UTC) - found.aggregated_at < fresh:
            return Refreshed(found, reused=True)
        with price_cache.refresh_lock(asset.symbol, wait_seconds=wait_seconds) as held:
            # A round that ended since `found` was read answers this call too.
            latest = price_cache.latest_price(asset.symbol)
            if latest is not None and (found is None or latest.aggregated_at > found.aggregated_at):
                return Refreshed(latest, reused=True)
            if not held:
                raise _round_error(asset.symbol, since=found)
            return Refreshed(_refresh_one(asset), reused=False)


def prices_refresh(*, symbols: Sequence[str], deadline: float, hot: bool = False) -> int:
    """Refresh the enabled assets among symbols at once, each venue asked before deadline (a
    time.monotonic() value), as hot ones (exchanges/limits.py) if hot; skip those another
    refresh holds. Return how many published; raise Unavailable."""
    with _services():
        assets = list(Asset.objects.filter(symbol__in=symbols, enabled=True))
        with price_cache.refresh_locks([asset.symbol for asset in assets]) as held:
            mine = [asset for asset in assets if asset.symbol in held]
            exchanges = list(Exchange.objects.filter(enabled=True))
            prices, _ = _refresh(mine, exchanges, deadline=deadline, hot=hot)
    return len(prices)


@contextmanager
def _services() -> Iterator[None]:
    """Turn a failure of Redis, DynamoDB or the database into Unavailable."""
    try:
        yield
    except BACKEND_ERRORS as exc:
        raise Unavailable(f"{service_name(exc)} is unavailable; try again soon.") from exc


def _enabled(symbol: str) -> Asset:
    try:
        return Asset.objects.get(symbol=symbol, enabled=True)
    except Asset.DoesNotExist:
        raise UnknownAsset(f"No enabled asset {symbol}.") from None


def _round_error(symbol: str, *, since: AggregatedPrice | None) -> RefreshError:
    """Return the error of a round that ended without a price since `since`: its NoQuorum,
    from the failure it kept beside the last good price, else a RefreshError."""
    published, _ = price_cache.read_published([symbol], also=[])
    _, failure = published[symbol]
    if failure is not None and (since is None or failure.newer_than(epoch_ms(since.aggregated_at))):
        return RoundNoQuorum(failure.detail, failure.sources)
    return RefreshError(f"The refresh of {symbol} under way published no price; try again.")


def _refresh_one(asset: Asset) -> AggregatedPrice:
    """Refresh one asset whose lock is held; return its price or raise its NoQuorum."""
    exchanges = list(Exchange.objects.filter(enabled=True))
    # Each venue gets its own timeout, as a single refresh always had.
    deadline, hot = own_timeouts(exchanges), asset.tier == Asset.Tier.HOT
    prices, failures = _refresh([asset], exchanges, deadline=deadline, hot=hot)
    if failures:
        raise failures[0]
    return prices[0]


def _refresh(
    assets: Sequence[Asset], exchanges: Sequence[Exchange], *, deadline: float, hot: bool
) -> tuple[list[AggregatedPrice], list[NoQuorum]]:
    started = time.monotonic()
    now, named, rates = quotes_collect(assets, exchanges, deadline=deadline, hot=hot)
    prices, failures = [], []
    made = False  # whether this round has made a rate, which later assets convert at
    for asset, code in _rates_first(assets):
        results = at_rates(asset, named[asset.symbol], rates, now) if made else named[asset.symbol]
        try:
            price = aggregate(asset.symbol, results, rules=asset.rules, now=now)
        except NoQuorum as exc:
            failures.append(exc)
            if code in rates:
                rates[code] = replace(rates[code], failed_at=now)
                made = True
            continue
        prices.append(price)
        if code is not None:
            rates[code] = conversion.Rate(price.price, now)
            made = True
    published = price_cache.publish(
        prices, [RefreshFailure(exc.symbol, now, str(exc), exc.sources) for exc in failures]
    )
    backlog.add(published)
    for price in prices:
        _observe("published", price.sources, started)
    for exc in failures:
        _observe("no_quorum", exc.sources, started)
    return prices, failures


def _rates_first(assets: Sequence[Asset]) -> list[tuple[Asset, str | None]]:
    """Return each asset with the currency whose rate its price is, the rates first (USDT's,
    which the others rest on, before them), so that an asset of the round quoted through one
    converts at the rate made of the same moment's quotes."""
    currencies = settings.PRICEHUB_RATE_CURRENCIES
    coded = [(asset, conversion.rate_of(asset.base, asset.quote, currencies)) for asset in assets]
    return sorted(
        coded, key=lambda each: 2 if each[1] is None else int(each[1] != conversion.ANCHOR)
    )


def _observe(outcome: str, sources: Sequence[Source], started: float) -> None:
    REFRESH_SECONDS.labels(outcome).observe(time.monotonic() - started)
    for source in sources:
        if source.reason is not None:
            QUOTES_EXCLUDED.labels(source.reason).inc()

"""The refresh: fetch every venue, aggregate, keep the latest in Redis, record history."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from aggregation import history, price_cache
from aggregation.aggregate import NoQuorum, aggregate
from aggregation.models import Asset
from aggregation.price import AggregatedPrice, RefreshFailure, Source
from common.metrics import QUOTES_EXCLUDED, REFRESH_SECONDS
from exchanges.client import fetch_quotes
from exchanges.models import Exchange
from exchanges.quotes import ExchangeError, Quote


def price_refresh(*, symbol: str, wait_seconds: float = 0) -> AggregatedPrice:
    """Fetch, aggregate, cache and record the price of one enabled asset; return it.

    Raise Asset.DoesNotExist, RefreshInProgress (after wait_seconds) or NoQuorum; on NoQuorum
    the last good price stays in place and the failure is kept beside it.
    """
    asset = Asset.objects.get(symbol=symbol, enabled=True)
    with price_cache.refresh_lock(asset.symbol, wait_seconds=wait_seconds):
        started = time.monotonic()
        now, named = quotes_collect(asset, list(Exchange.objects.filter(enabled=True)))
        try:
            price = aggregate(asset.symbol, named, rules=asset.rules, now=now)
        except NoQuorum as exc:
            price_cache.store_failure(RefreshFailure(asset.symbol, now, str(exc), exc.sources))
            _observe("no_quorum", exc.sources, started)
            raise
        price_cache.store(price)
        history.record(price)
        _observe("published", price.sources, started)
        return price


def quotes_collect(
    asset: Asset, exchanges: Sequence[Exchange]
) -> tuple[datetime, list[tuple[str, Quote | ExchangeError]]]:
    """Ask every venue for asset; return the time and each venue's dated quote or error.

    A quote without the venue's own time is dated when PriceHub first saw it unchanged,
    so a venue stuck on one answer goes stale like any other.
    """
    results = fetch_quotes(exchanges, symbol=asset.symbol, base=asset.base, quote=asset.quote)
    now = datetime.now(UTC)
    dated = [
        replace(result, timestamp=price_cache.unchanged_since(result, now))
        if isinstance(result, Quote) and result.timestamp is None
        else result
        for result in results
    ]
    return now, [(exchange.name, result) for exchange, result in zip(exchanges, dated, strict=True)]


def _observe(outcome: str, sources: Sequence[Source], started: float) -> None:
    REFRESH_SECONDS.labels(outcome).observe(time.monotonic() - started)
    for source in sources:
        if source.reason is not None:
            QUOTES_EXCLUDED.labels(source.reason).inc()

"""How close PriceHub's price stays to the simulator's true price while one venue misbehaves,
or while the whole market moves (a USDT depeg).

Works only against the simulated venues, whose /sim endpoints inject faults and tell the true
price; `manage.py accuracy` prints its table.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from statistics import fmean
from typing import Any

from django.conf import settings

from aggregation import price_cache
from aggregation.aggregate import NoQuorum, aggregate
from aggregation.conversion import rate_asset
from aggregation.methods import vwap
from aggregation.models import Asset
from aggregation.price import RefreshError
from aggregation.services import price_refresh, quotes_collect
from exchanges.circuits import circuit_close
from exchanges.client import own_timeouts
from exchanges.models import Exchange
from exchanges.quotes import Quote
from mock_exchange_app import currencies, market
from mock_exchange_app.control import (
    clear_faults,
    reset_market,
    set_fault,
    set_market,
    true_price,
)

# (name, fault) pairs; "slow" is given a delay past the venue's timeout when it is applied.
SCENARIOS: list[tuple[str, dict[str, Any]]] = [
    ("none", {}),
    ("down", {"mode": "down"}),
    ("slow", {"mode": "slow"}),
    ("garbage html", {"mode": "garbage", "kind": "html"}),
    ("garbage truncated", {"mode": "garbage", "kind": "truncated"}),
    ("garbage nan", {"mode": "garbage", "kind": "nan"}),
    ("garbage types", {"mode": "garbage", "kind": "types"}),
    ("stale", {"mode": "stale", "age": 120}),
    ("outlier", {"mode": "outlier", "factor": "1.05"}),
]


# (name, market control) pairs: what moves the whole market, every venue alike.
MARKET_SCENARIOS: list[tuple[str, dict[str, Any]]] = [
    ("USDT at 0.97 USD", {"rates": {"USDT": "0.97"}}),
]


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    sources_used: int  # in the last sample; 0 when no quorum
    pricehub_bps: float | None  # mean absolute error; None when no price was published
    plain_vwap_bps: float  # the plain VWAP of every quote that parsed, as PriceHub once did
    at_par_bps: float  # the plain VWAP with every quote currency taken at par with the asset's


def measure(
    asset: Asset,
    faulty: Exchange,
    exchanges: Sequence[Exchange],
    *,
    samples: int = 5,
    every: float = 1.0,
    settle: float = 0.0,
) -> list[Row]:
    """Return one row per scenario, each fault applied to faulty's quotes of asset, its
    samples `every` seconds apart (the venues' books move every second), the first `settle`
    seconds after the fault."""
    rows = []
    try:
        for name, fault in SCENARIOS:
            _heal(exchanges)
            if fault:
                params = {**fault, "delay": faulty.timeout_seconds + 1} if name == "slow" else fault
                for symbol in _markets_of(asset.base):
                    set_fault(faulty.base_url, symbol, **params)
            rows.append(_sample(name, asset, exchanges, samples, every, settle))
    finally:
        _heal(exchanges)
    return rows


def measure_market(
    asset: Asset,
    exchanges: Sequence[Exchange],
    *,
    samples: int = 5,
    every: float = 1.0,
    settle: float = 0.0,
) -> list[Row]:
    """Return one row per market-wide scenario (MARKET_SCENARIOS), each set through a venue,
    sampled from `settle` seconds after."""
    rows = []
    try:
        for name, control in MARKET_SCENARIOS:
            _heal(exchanges)
            set_market(exchanges[0].base_url, **control)
            rows.append(_sample(name, asset, exchanges, samples, every, settle))
    finally:
        _heal(exchanges)
    return rows


def _heal(exchanges: Sequence[Exchange]) -> None:
    # Each scenario starts from healthy venues, their circuits closed by the last one's faults,
    # in the default market.
    for exchange in exchanges:
        clear_faults(exchange.base_url)
        circuit_close(exchange.name)
    reset_market(exchanges[0].base_url)


def _sample(
    name: str,
    asset: Asset,
    exchanges: Sequence[Exchange],
    samples: int,
    every: float,
    settle: float,
) -> Row:
    # The scenario's change is made: its samples begin `settle` seconds later.
    time.sleep(settle)
    ours: list[float] = []
    plain: list[float] = []
    at_par: list[float] = []
    used = 0
    started = datetime.now(UTC)
    for sample in range(samples):
        if sample:
            time.sleep(every)
        _refresh_rates(started)
        # Asked as a hot refresh is: within each venue's limit, from the hot share of it.
        deadline = own_timeouts(exchanges)
        now, found = quotes_collect([asset], exchanges, deadline=deadline, hot=True)
        named = found[asset.symbol]
        truth = true_price(exchanges[0].base_url, asset.symbol, at=now)
        quotes = [(origin, result) for origin, result in named if isinstance(result, Quote)]
        plain.append(_bps(vwap([quote for _, quote in quotes]), truth))
        unconverted = [
            replace(quote, price=quote.price / (origin.rate or 1)) for origin, quote in quotes
        ]
        at_par.append(_bps(vwap(unconverted), truth))
        try:
            price = aggregate(asset.symbol, named, rules=asset.rules, now=now)
        except NoQuorum:
            used = 0
            continue
        used = len(price.used)
        ours.append(_bps(price.price, truth))
    return Row(name, used, fmean(ours) if ours else None, fmean(plain), fmean(at_par))


def _markets_of(base: str) -> list[str]:
    """Return the simulated markets of base, in every quote currency: a venue's fault on all of
    them takes every one of its quotes of an asset of that base away."""
    listed = {**market.assets(), **currencies.derived()}
    return [symbol for symbol, each in listed.items() if each.base == base]


def _refresh_rates(started: datetime) -> None:
    # The rates a sample converts through, no older than a second and made since the scenario
    # started, so that a market-wide change is in them at once: the beat's under make run,
    # else refreshed here (each refresh asks the venues, within their limits).
    symbols = [rate_asset(code) for code in settings.PRICEHUB_RATE_CURRENCIES]
    published = price_cache.latest_prices(symbols)
    fresh_since = max(started, datetime.now(UTC) - timedelta(seconds=1))
    for symbol in symbols:
        price = published.get(symbol)
        if price is None or price.aggregated_at < fresh_since:
            with suppress(RefreshError):
                price_refresh(symbol=symbol)


def _bps(price: Decimal, truth: Decimal) -> float:
    return float(abs(price - truth) / truth * 10_000)

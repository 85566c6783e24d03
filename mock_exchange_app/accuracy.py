"""How close PriceHub's price stays to the simulator's true price while one venue misbehaves.

Works only against the simulated venues, whose /sim endpoints inject faults and tell the true
price; `manage.py accuracy` prints its table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import fmean
from typing import Any

from aggregation.aggregate import NoQuorum, aggregate
from aggregation.methods import vwap
from aggregation.models import Asset
from aggregation.services import quotes_collect
from exchanges.circuits import circuit_close
from exchanges.client import own_timeouts
from exchanges.models import Exchange
from exchanges.quotes import Quote
from mock_exchange_app.control import clear_faults, set_fault, true_price

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


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    sources_used: int  # in the last sample; 0 when no quorum
    pricehub_bps: float | None  # mean absolute error; None when no price was published
    plain_vwap_bps: float  # the plain VWAP of every quote that parsed, as PriceHub once did


def measure(
    asset: Asset, faulty: Exchange, exchanges: Sequence[Exchange], *, samples: int = 5
) -> list[Row]:
    """Return one row per scenario, each fault applied to faulty's quotes of asset."""
    rows = []
    try:
        for name, fault in SCENARIOS:
            _heal(exchanges)
            if fault:
                params = {**fault, "delay": faulty.timeout_seconds + 1} if name == "slow" else fault
                set_fault(faulty.base_url, asset.symbol, **params)
            rows.append(_sample(name, asset, exchanges, samples))
    finally:
        _heal(exchanges)
    return rows


def _heal(exchanges: Sequence[Exchange]) -> None:
    # Each scenario starts from healthy venues, their circuits closed by the last one's faults.
    for exchange in exchanges:
        clear_faults(exchange.base_url)
        circuit_close(exchange.name)


def _sample(name: str, asset: Asset, exchanges: Sequence[Exchange], samples: int) -> Row:
    ours: list[float] = []
    plain: list[float] = []
    used = 0
    for _ in range(samples):
        now, found = quotes_collect([asset], exchanges, deadline=own_timeouts(exchanges))
        named = found[asset.symbol]
        truth = true_price(exchanges[0].base_url, asset.symbol, at=now)
        quotes = [result for _, result in named if isinstance(result, Quote)]
        plain.append(_bps(vwap(quotes), truth))
        try:
            price = aggregate(asset.symbol, named, rules=asset.rules, now=now)
        except NoQuorum:
            used = 0
            continue
        used = len(price.used)
        ours.append(_bps(price.price, truth))
    return Row(name, used, fmean(ours) if ours else None, fmean(plain))


def _bps(price: Decimal, truth: Decimal) -> float:
    return float(abs(price - truth) / truth * 10_000)

"""How close PriceHub's published price stays to the simulator's true price while a venue
misbehaves, the whole market moves (a USDT depeg), an asset jumps, or a venue lags.

Each sample is a price PriceHub published for the asset, against the truth at the moment it
was aggregated, beside what a plain volume-weighted average of the same quotes would give
(every quote that parsed, a kept one at full weight, as PriceHub once priced) and that average
taking every quote currency at par. A steady scenario samples every price published while it
runs, each once, in rounds: every scenario in turn, then in reverse order, and so on, so that
whatever drifts during a run (the venues' noise, the machine's load) falls on every scenario
alike. Where the beat refreshes the asset (`make run`), the samples read what it publishes;
elsewhere the harness refreshes the asset and its rates itself for each sample, as a hot
refresh would. A jump is judged as a client sees it: the published price against the truth of
the moment, from the jump's end on.

Works only against the simulated venues, whose /sim endpoints inject faults and tell the
truth; `manage.py accuracy` prints its table.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from statistics import fmean, quantiles
from typing import Any

from django.conf import settings

from aggregation import price_cache
from aggregation.conversion import rate_asset
from aggregation.methods import vwap
from aggregation.models import Asset
from aggregation.price import AggregatedPrice, RefreshError
from aggregation.services import prices_refresh
from exchanges.circuits import circuit_close
from exchanges.client import own_timeouts
from exchanges.models import Exchange
from mock_exchange_app import currencies, market
from mock_exchange_app.control import clear_faults, reset_market, set_fault, set_market, true_price

CONVERGED_BPS = 10.0  # a jump's published price is converged within this of the truth
_BEAT_SECONDS = 3.0  # a price younger than this at the start says the beat refreshes the asset
_EVERY = 0.25  # seconds between a jump's samples
_POLL = 0.05  # seconds between looks for a steady scenario's next published price
_PATIENCE = 3.0  # seconds without a new price that end a steady scenario's round

# Faults of one venue; "slow" is given a delay past the venue's timeout when it is applied.
FAULTS: list[tuple[str, dict[str, Any]]] = [
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
class Scenario:
    name: str
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)  # by venue name
    market: dict[str, Any] = field(default_factory=dict)  # a PUT /sim/market body
    jump: float | None = None  # percent, alternately up and down, from each jump's start
    group: str | None = None  # judged with its group's: their worst within 2 bps of fault-free
    bound_bps: float | None = None  # judged alone: its mean error within this


def scenarios(venue: str, venues: Sequence[str], largest: str) -> list[Scenario]:
    """Return every scenario: fault-free, each fault on venue, each other venue down, all down,
    a USDT depeg, jumps (with the largest venue down during them) and the largest venue lagging."""
    down, faulty, others = {"mode": "down"}, f"every {venue} fault", "each other venue down"
    late = {"lag": {largest: 3}, "volatility": 3}
    return [
        Scenario("none"),
        *(Scenario(f"{venue} {name}", {venue: f}, group=faulty) for name, f in FAULTS),
        *(Scenario(f"{v} down", {v: down}, group=others) for v in venues if v != venue),
        Scenario("all down", {name: down for name in venues}),
        Scenario("USDT at 0.97 USD", market={"rates": {"USDT": "0.97"}}, bound_bps=3.0),
        Scenario("jumps of 2 %", jump=2.0),
        Scenario(f"jumps, {largest} down", {largest: down}, jump=2.0),
        Scenario(f"{largest} 3 s late, volatility x3", market=late, bound_bps=3.0),
    ]


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    sources_used: int  # in the last sample; 0 when nothing was published since it began
    mean_bps: float | None  # PriceHub's error; None when nothing was published
    p95_bps: float | None
    plain_mean_bps: float  # the plain VWAP of the same quotes
    plain_p95_bps: float
    at_par_bps: float  # the plain VWAP taking every quote currency at par, mean
    converged_p95_seconds: float | None = None  # a jump's, from its end; None for others
    samples: int = 0  # prices measured
    rounds: tuple[float, ...] = ()  # a steady scenario's mean error in each round
    worst: tuple[AggregatedPrice, Decimal] | None = None  # the price furthest from its truth
    group: str | None = None  # its scenario's
    bound_bps: float | None = None  # its scenario's


@dataclass(frozen=True, slots=True)
class Options:
    samples: int = 40  # a steady scenario's prices over all its rounds, or a jump one's jumps
    rounds: int = 4  # how many times each steady scenario is measured, in turn with the others
    settle: float = 3.0  # seconds from a scenario's change to its first sample
    jump_seconds: float = 5.0
    window: float = 2.0  # a jump's samples run this long after its end


def measure(
    asset: Asset, exchanges: Sequence[Exchange], todo: Sequence[Scenario], options: Options
) -> list[Row]:
    """Return one row per scenario of asset, each from healthy venues in the quiet market."""
    beat = _published(asset.symbol, since=datetime.now(UTC) - timedelta(seconds=_BEAT_SECONDS))
    sampler = _Sampler(asset, exchanges, refresh=beat is None)
    found = {scenario.name: _Errors() for scenario in todo}
    each = max(1, options.samples // options.rounds)
    try:
        for scenario in in_rounds(todo, options.rounds):
            _heal(exchanges)
            _apply(scenario, asset, exchanges)
            time.sleep(options.settle)
            if scenario.jump:
                sampler.jumps(scenario, options, found[scenario.name])
            else:
                sampler.steady(each, found[scenario.name])
    finally:
        _heal(exchanges)
    return [found[scenario.name].row(scenario) for scenario in todo]


def in_rounds(todo: Sequence[Scenario], rounds: int) -> Iterator[Scenario]:
    """Yield the steady scenarios once a round, every other round in reverse order, then each
    jump scenario once (its jumps are its samples)."""
    steady = [scenario for scenario in todo if not scenario.jump]
    for number in range(rounds):
        yield from reversed(steady) if number % 2 else steady
    yield from (scenario for scenario in todo if scenario.jump)


def _apply(scenario: Scenario, asset: Asset, exchanges: Sequence[Exchange]) -> None:
    for exchange in exchanges:
        if (fault := scenario.faults.get(exchange.name)) is not None:
            if fault["mode"] == "slow":
                fault = {**fault, "delay": exchange.timeout_seconds + 1}
            for symbol in _markets_of(asset.base):
                set_fault(exchange.base_url, symbol, **fault)
    if scenario.market:
        set_market(exchanges[0].base_url, **scenario.market)


def _heal(exchanges: Sequence[Exchange]) -> None:
    # Each scenario starts from healthy venues, their circuits closed by the last one's faults,
    # in the default market.
    for exchange in exchanges:
        clear_faults(exchange.base_url)
        circuit_close(exchange.name)
    reset_market(exchanges[0].base_url)


@dataclass(slots=True)
class _Errors:
    """A scenario's samples over all its rounds, in bps from the truth."""

    ours: list[float] = field(default_factory=list)
    plain: list[float] = field(default_factory=list)
    at_par: list[float] = field(default_factory=list)
    rounds: list[float] = field(default_factory=list)  # each round's mean of ours
    used: int = 0  # sources of the last price sampled; 0 when none was published
    converged: float | None = None  # a jump scenario's p95
    worst: tuple[AggregatedPrice, Decimal] | None = None

    def add(self, price: AggregatedPrice, truth: Decimal) -> None:
        error = _bps(price.price, truth)
        if not self.ours or error > max(self.ours):
            self.worst = price, truth
        self.ours.append(error)
        quotes = [s for s in price.sources if s.price is not None and s.volume is not None]
        self.plain.append(_bps(vwap(quotes), truth))
        unconverted = [replace(s, price=s.price / (s.rate or 1)) for s in quotes]
        self.at_par.append(_bps(vwap(unconverted), truth))
        self.used = len(price.used)

    def row(self, scenario: Scenario) -> Row:
        ours, plain, at_par = self.ours, self.plain, self.at_par
        return Row(
            scenario=scenario.name,
            sources_used=self.used,
            mean_bps=fmean(ours) if ours else None,
            p95_bps=_p95(ours) if ours else None,
            plain_mean_bps=fmean(plain) if plain else float("nan"),
            plain_p95_bps=_p95(plain) if plain else float("nan"),
            at_par_bps=fmean(at_par) if at_par else float("nan"),
            converged_p95_seconds=self.converged,
            samples=len(ours),
            rounds=tuple(self.rounds),
            worst=self.worst,
            group=scenario.group,
            bound_bps=scenario.bound_bps,
        )


@dataclass(slots=True)
class _Sampler:
    asset: Asset
    exchanges: Sequence[Exchange]
    refresh: bool  # whether the harness refreshes the asset itself (no beat does)

    def steady(self, count: int, errors: _Errors) -> None:
        """Sample each of the next `count` prices published, once; stop sooner when none
        comes for _PATIENCE seconds."""
        after, first, waited = datetime.now(UTC), len(errors.ours), time.monotonic()
        while len(errors.ours) - first < count and time.monotonic() - waited < _PATIENCE:
            price = self._latest(since=after)
            if price is None:
                time.sleep(_POLL)
                continue
            errors.add(price, self._truth(price.aggregated_at))
            # Prices are dated to the millisecond.
            after, waited = price.aggregated_at + timedelta(milliseconds=1), time.monotonic()
        if len(errors.ours) > first:
            errors.rounds.append(fmean(errors.ours[first:]))

    def jumps(self, scenario: Scenario, options: Options, errors: _Errors) -> None:
        started = datetime.now(UTC)
        took = [
            self._jump(started, scenario.jump if number % 2 else -scenario.jump, options, errors)
            for number in range(options.samples)
        ]
        errors.converged = _p95(took)

    def _jump(self, started: datetime, percent: float, options: Options, errors: _Errors) -> float:
        """Jump the asset's base by percent; sample from the jump's end for options.window
        seconds; return how long after its end the published price came within
        CONVERGED_BPS of the truth (the window and 10 s more when it never did)."""
        jump = {"base": self.asset.base, "percent": percent, "seconds": options.jump_seconds}
        end = set_market(self.exchanges[0].base_url, jump=jump).timestamp()
        end += options.jump_seconds
        give_up = end + options.window + 10
        converged = None
        while (now := time.time()) < end + options.window or converged is None:
            if now > give_up:
                return give_up - end
            price = self._latest(since=started)
            if price is not None and now >= end:
                errors.add(price, self._truth(price.aggregated_at))
                if converged is None and self._error_now(price) <= CONVERGED_BPS:
                    converged = max(0.0, now - end)
            time.sleep(_EVERY)
        return converged

    def _error_now(self, price: AggregatedPrice) -> float:
        return _bps(price.price, self._truth(datetime.now(UTC)))

    def _latest(self, *, since: datetime) -> AggregatedPrice | None:
        if self.refresh:
            self._refresh()
        return _published(self.asset.symbol, since=since)

    def _refresh(self) -> None:
        # The asset and its rates in one round, as the beat's hot batch refreshes them.
        symbols = [rate_asset(code) for code in settings.PRICEHUB_RATE_CURRENCIES]
        with suppress(RefreshError):
            deadline = own_timeouts(self.exchanges)
            prices_refresh(symbols=[*symbols, self.asset.symbol], deadline=deadline, hot=True)

    def _truth(self, at: datetime) -> Decimal:
        return true_price(self.exchanges[0].base_url, self.asset.symbol, at=at)


def _published(symbol: str, *, since: datetime) -> AggregatedPrice | None:
    """Return the asset's latest published price if aggregated since `since`."""
    price = price_cache.latest_prices([symbol]).get(symbol)
    return price if price is not None and price.aggregated_at >= since else None


def _markets_of(base: str) -> list[str]:
    """Return the simulated markets of base, in every quote currency: a venue's fault on all of
    them takes every one of its quotes of an asset of that base away."""
    listed = {**market.assets(), **currencies.derived()}
    return [symbol for symbol, each in listed.items() if each.base == base]


def _p95(values: Sequence[float]) -> float:
    return quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def _bps(price: Decimal, truth: Decimal) -> float:
    return abs(signed_bps(price, truth))


def signed_bps(price: Decimal, truth: Decimal) -> float:
    return float((price - truth) / truth * 10_000)

"""The accuracy harness's order of scenarios, its targets judged from rows alone, and the
worst price it shows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from aggregation.price import AggregatedPrice, Source
from mock_exchange_app.accuracy import Row, Scenario, _Errors, in_rounds, scenarios
from mock_exchange_app.management.commands.accuracy import sample, targets


def row(name: str, mean: float | None, converged: float | None = None) -> Row:
    """Return the row of scenario name (as scenarios() has it, with its target) at mean."""
    scenario = SCENARIOS[name]
    return Row(
        name,
        6,
        mean,
        mean,
        9.0,
        9.0,
        9.0,
        converged,
        group=scenario.group,
        bound_bps=scenario.bound_bps,
    )


SCENARIOS = {s.name: s for s in scenarios("binance", ["binance", "kraken"], "binance")}


def test_each_target_passes_or_misses_with_what_was_measured():
    rows = [
        row("none", 1.2),
        row("binance down", 3.0),
        row("binance outlier", 1.0),
        row("kraken down", 3.6),
        row("all down", None),
        row("USDT at 0.97 USD", 1.1),
        row("jumps of 2 %", 1.0, converged=1.5),
        row("jumps, binance down", 2.0, converged=2.5),
        row("binance 3 s late, volatility x3", 3.5),
    ]
    assert targets(rows) == [
        (True, "fault-free 1.20 bps <= 1.5"),
        (True, "every binance fault within 2 bps of fault-free: binance down +1.80"),
        (False, "each other venue down within 2 bps of fault-free: kraken down +2.40"),
        (True, "USDT at 0.97 USD: 1.10 bps <= 3 (plain VWAP 9.00)"),
        (True, "jumps of 2 %: within 10 bps of the truth 1.50 s after the end, p95 <= 2 s"),
        (False, "jumps, binance down: within 10 bps of the truth 2.50 s after the end, p95 <= 2 s"),
        (False, "binance 3 s late, volatility x3: 3.50 bps <= 3 (plain VWAP 9.00)"),
    ]


def test_each_venue_is_taken_down_alone_once():
    names = [s.name for s in scenarios("binance", ["binance", "kraken", "okx"], "okx")]
    downs = [name for name in names if name.endswith(" down")]
    assert downs == ["binance down", "kraken down", "okx down", "all down", "jumps, okx down"]


def test_a_fault_that_left_no_price_misses():
    (_, fault) = targets([row("none", 1.0), row("binance down", None)])
    assert fault == (False, "every binance fault within 2 bps of fault-free: binance down +inf")


def test_steady_scenarios_are_measured_in_turn_every_other_round_reversed_then_the_jumps():
    steady = [Scenario("none"), Scenario("binance down"), Scenario("all down")]
    jumps = [Scenario("jumps of 2 %", jump=2.0)]
    names = [scenario.name for scenario in in_rounds([*steady, *jumps], 3)]
    assert names == [
        *("none", "binance down", "all down"),
        *("all down", "binance down", "none"),
        *("none", "binance down", "all down"),
        "jumps of 2 %",
    ]


def price_of(value: str, rate: str) -> AggregatedPrice:
    usd = Source("kraken", "used", price=Decimal(value), volume=Decimal(2), market="XXBTZUSD")
    usdt = Source(
        "binance",
        "used",
        price=Decimal(value),
        volume=Decimal(6),
        market="BTCUSDT",
        rate=Decimal(rate),
        rate_age=Decimal("0.8"),
        weight=Decimal("0.75"),
    )
    at = datetime(2026, 12, 5, 12, 0, 1, 250_000, tzinfo=UTC)
    return AggregatedPrice("BTCUSD", Decimal(value), "vwap", at, at, (usd, usdt))


def test_a_scenario_keeps_its_price_furthest_from_the_truth_and_shows_what_made_it():
    errors = _Errors()
    for value in ("100010", "103000", "99990"):
        errors.add(price_of(value, "1.0001"), Decimal(100000))
    worst, truth = errors.row(SCENARIOS["USDT at 0.97 USD"]).worst
    assert (worst.price, truth) == (Decimal(103000), Decimal(100000))
    assert sample(worst, truth).splitlines() == [
        "+300.00 bps, 103000 against 100000 at 2026-12-05T12:00:01.250+00:00",
        "  kraken XXBTZUSD: +300.0 bps, weight None",
        "  binance BTCUSDT: +300.0 bps at rate 1.0001 (0.8 s old), weight 0.75",
    ]

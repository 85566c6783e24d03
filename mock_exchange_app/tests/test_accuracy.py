"""The accuracy harness over the simulated venues, refreshing BTCUSD itself as no beat runs
here: these tests measure how PriceHub prices under faults and moves, not the venues' rate
limits (exchanges/tests/test_limits.py), so both sides' limits are lifted here."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from aggregation import price_cache
from aggregation.models import Asset
from aggregation.services import prices_refresh
from exchanges import catalogue
from exchanges.models import Exchange
from mock_exchange_app import control
from mock_exchange_app.accuracy import FAULTS, Options, Row, measure, scenarios

pytestmark = pytest.mark.usefixtures("stores", "venue_rows")
QUICK = Options(samples=4, rounds=2, settle=0)


def lift_limits(venues: dict[str, str]) -> None:
    for url in venues.values():
        control.set_limit(url, 1_000_000)


@pytest.fixture(autouse=True)
def no_limits(venues: dict[str, str], venue_rows: None) -> Iterator[None]:
    with override_settings(PRICEHUB_VENUE_LIMITS=False):
        lift_limits(venues)  # after venue_rows put the documented ones back
        Exchange.objects.update(timeout_seconds=0.5)
        for base in ("BTC", "USDT", "USDC"):
            Asset.objects.get_or_create(
                symbol=f"{base}USD", defaults={"base": base, "quote": "USD"}
            )
        catalogue.sync_all()
        yield
    for url in venues.values():
        control.reset_limits(url)


def run(names: set[str], options: Options = QUICK) -> dict[str, Row]:
    exchanges = list(Exchange.objects.filter(enabled=True))
    venues = [exchange.name for exchange in exchanges]
    todo = [s for s in scenarios("binance", venues, "binance") if s.name in names]
    rows = measure(Asset.objects.get(symbol="BTCUSD"), exchanges, todo, options)
    assert [row.scenario for row in rows] == [s.name for s in todo]
    return {row.scenario: row for row in rows}


@pytest.mark.slow
def test_every_fault_of_one_venue_leaves_the_price_near_the_fault_free_one():
    rows = run({"none", *(f"binance {name}" for name, _ in FAULTS)})
    baseline = rows.pop("none")
    assert baseline.mean_bps <= 3
    assert all(row.mean_bps - baseline.mean_bps <= 5 for row in rows.values()), rows
    outlier = rows["binance outlier"]
    assert outlier.plain_mean_bps > 100 > outlier.mean_bps


@pytest.mark.slow
def test_with_every_venue_down_nothing_is_published():
    (row,) = run({"all down"}).values()
    assert (row.sources_used, row.mean_bps, row.samples, row.rounds) == (0, None, 0, ())


# The beat stand-in refreshes in a thread of its own and reads committed rows.
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_steady_scenario_waits_for_each_new_price_the_beat_publishes():
    published: list[datetime] = []
    stop, first = threading.Event(), threading.Event()

    def beat() -> None:  # a hot beat slower than a price a second
        try:
            while not stop.is_set():
                symbols = ["USDTUSD", "USDCUSD", "BTCUSD"]
                prices_refresh(symbols=symbols, deadline=time.monotonic() + 0.5, hot=True)
                published.append(price_cache.latest_price("BTCUSD").aggregated_at)
                first.set()
                stop.wait(1.2)
        finally:
            connection.close()

    thread = threading.Thread(target=beat)
    thread.start()
    try:
        assert first.wait(10)
        started = datetime.now(UTC)
        (row,) = run({"none"}, Options(samples=3, rounds=1, settle=0)).values()
        ended = datetime.now(UTC)
    finally:
        stop.set()
        thread.join()
    # Read at fixed times a second apart, a price would have been sampled twice.
    assert (row.samples, len(row.rounds)) == (3, 1)
    assert len([at for at in published if started <= at <= ended]) >= 3


@pytest.mark.slow
def test_the_price_follows_a_jump_up_and_down_even_with_the_largest_venue_down():
    fast = Options(samples=2, settle=0, jump_seconds=1, window=1.5)
    rows = run({"jumps of 2 %", "jumps, binance down"}, fast)
    for row in rows.values():
        assert row.converged_p95_seconds <= 1.5, row
        assert row.p95_bps <= 10, row
    assert rows["jumps, binance down"].sources_used < rows["jumps of 2 %"].sources_used


def test_a_lagging_venue_is_sampled_beside_a_plain_vwap():
    (row,) = run({"binance 3 s late, volatility x3"}).values()
    assert row.mean_bps <= 10
    assert row.plain_mean_bps >= 0


def test_the_command_prints_a_row_per_scenario():
    out = StringIO()
    args = ["--samples", "2", "--rounds", "2", "--settle", "0", "--only", "none"]
    call_command("accuracy", *args, stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("BTCUSD, 6 venues, largest ")
    assert lines[1].split()[:5] == ["used", "n", "mean", "bps", "rounds"]
    assert lines[2].split()[:3] == ["none", lines[2].split()[1], "2"]
    assert "-" in lines[2].split()[4]  # the lowest and highest of the two rounds' means
    assert lines[3:5] == ["", lines[4]]
    assert lines[4].split()[:2] in (["PASS", "fault-free"], ["MISS", "fault-free"])

"""The accuracy harness, sampling as fast as it can: these tests measure how PriceHub prices
under faults, not the venues' rate limits (exchanges/tests/test_limits.py), so both sides'
limits are lifted here."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings

from aggregation.models import Asset
from exchanges import catalogue
from exchanges.models import Exchange
from mock_exchange_app import control
from mock_exchange_app.accuracy import MARKET_SCENARIOS, SCENARIOS, Row, measure, measure_market


def lift_limits(venues: dict[str, str]) -> None:
    for url in venues.values():
        control.set_limit(url, 1_000_000)


@pytest.fixture(scope="module", autouse=True)
def no_limits(venues: dict[str, str]) -> Iterator[None]:
    with override_settings(PRICEHUB_VENUE_LIMITS=False):
        lift_limits(venues)
        yield
        for url in venues.values():
            control.reset_limits(url)


@pytest.fixture(scope="module")
def rows(services: None, venues: dict[str, str], django_db_blocker) -> list[Row]:
    """Measure once for the module: the rows of BTCUSDT with faults on binance (the refresh
    reads the venues' markets from the database)."""
    exchanges = [
        Exchange(name=kind, kind=kind, base_url=url, timeout_seconds=0.5)
        for kind, url in venues.items()
    ]
    asset = Asset(symbol="BTCUSDT", base="BTC", quote="USDT")
    with django_db_blocker.unblock():
        return measure(asset, exchanges[0], exchanges, samples=5, every=0)


def test_it_measures_every_scenario(rows):
    assert [row.scenario for row in rows] == [name for name, _ in SCENARIOS]


def test_it_prices_every_fault_from_the_five_healthy_venues(rows):
    assert [row.sources_used for row in rows[1:]] == [5] * (len(SCENARIOS) - 1)


def test_it_stays_within_5_bps_of_its_fault_free_error_under_every_fault(rows):
    baseline = rows[0].pricehub_bps
    assert all(row.pricehub_bps - baseline <= 5 for row in rows)


def test_it_beats_a_plain_vwap_when_a_venue_quotes_an_outlier(rows):
    outlier = next(row for row in rows if row.scenario == "outlier")
    assert outlier.plain_vwap_bps > 100 > outlier.pricehub_bps


@pytest.mark.usefixtures("stores", "venue_rows")
def test_the_command_prints_a_row_per_scenario(venues):
    lift_limits(venues)  # venue_rows put the documented ones back
    Exchange.objects.update(timeout_seconds=0.5)
    out = StringIO()
    call_command("accuracy", "--samples", "1", "--settle", "0", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[1].split()[:2] == ["scenario", "used"]
    assert len(lines) == 2 + len(SCENARIOS) + len(MARKET_SCENARIOS)


@pytest.mark.usefixtures("stores", "venue_rows")
def test_a_usdt_depeg_leaves_btcusd_near_the_truth_where_usdt_at_par_is_far(venues):
    lift_limits(venues)  # venue_rows put the documented ones back
    for base in ("BTC", "USDT", "USDC"):
        Asset.objects.get_or_create(symbol=f"{base}USD", defaults={"base": base, "quote": "USD"})
    catalogue.sync_all()
    exchanges = list(Exchange.objects.filter(enabled=True))
    btcusd = Asset.objects.get(symbol="BTCUSD")
    (depeg,) = measure_market(btcusd, exchanges, samples=3, every=0)
    assert depeg.scenario == "USDT at 0.97 USD"
    # BTC's USD, USDT and USDC books: two each on Binance, Coinbase, Kraken, OKX and Bybit,
    # three on Bitstamp; its EUR books wait for a EURUSD asset.
    assert depeg.sources_used == 13
    assert depeg.pricehub_bps <= 3
    assert depeg.at_par_bps > 100  # six of its markets' prices are in USDT, 300 bps off at par

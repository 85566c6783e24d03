"""The batch refresh: each venue asked once for many assets, a round that keeps its time."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from django.conf import settings

from aggregation import codec, price_cache
from aggregation.services import prices_refresh
from aggregation.tasks import refresh_batch
from exchanges.circuits import circuit_state
from exchanges.models import Exchange
from mock_exchange_app.control import clear_faults, set_fault

pytestmark = pytest.mark.usefixtures("stores", "venue_rows")


@pytest.fixture
def binance(venues: dict[str, str]) -> Iterator[str]:
    yield venues["binance"]
    clear_faults(venues["binance"])


def sources(symbol: str) -> dict[str, str | None]:
    price = price_cache.latest_price(symbol)
    assert price is not None, f"no price for {symbol}"
    return {source.exchange: source.reason for source in price.sources}


def test_it_refreshes_many_assets_at_once():
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
    # A round's deadline, not a speed target: on a loaded machine a process's first round also
    # opens its connections to six venues.
    assert prices_refresh(symbols=symbols, deadline=time.monotonic() + 5) == 4
    reasons = {symbol: sources(symbol) for symbol in symbols}
    assert all(set(each.values()) == {None} for each in reasons.values()), reasons


def test_a_venue_failing_for_some_symbols_only_is_excluded_for_those_only(binance):
    set_fault(binance, "BTCUSDT", "down")
    prices_refresh(symbols=["BTCUSDT", "ETHUSDT"], deadline=time.monotonic() + 2)
    assert sources("BTCUSDT")["binance"] == "bad_response"
    assert sources("ETHUSDT")["binance"] is None


def test_a_slow_venue_holds_the_round_no_longer_than_its_deadline(binance):
    set_fault(binance, "*", "slow", delay=5)
    started = time.monotonic()
    assert prices_refresh(symbols=["BTCUSDT", "ETHUSDT"], deadline=started + 0.8) == 2
    assert time.monotonic() - started < 1.5
    assert sources("BTCUSDT")["binance"] == "timeout"


def test_it_skips_an_asset_whose_refresh_runs_elsewhere():
    with price_cache.refresh_lock("BTCUSDT"):
        assert prices_refresh(symbols=["BTCUSDT", "ETHUSDT"], deadline=time.monotonic() + 2) == 1
    assert price_cache.latest_price("BTCUSDT") is None


def test_a_venue_slower_than_a_round_but_within_its_timeout_keeps_its_circuit_closed(binance):
    set_fault(binance, "*", "slow", delay=1)
    for _ in range(6):  # more than CIRCUIT_FAIL_MAX rounds, each cut short by its deadline
        prices_refresh(symbols=["BTCUSDT"], deadline=time.monotonic() + 0.3)
    assert sources("BTCUSDT")["binance"] == "timeout"
    assert circuit_state("binance") == "closed"


def test_a_cold_round_holds_its_worker_no_longer_than_the_round_cap(binance):
    Exchange.objects.filter(name="binance").update(timeout_seconds=10)
    set_fault(binance, "*", "slow", delay=5)
    started = time.monotonic()
    assert refresh_batch.apply(args=(["ETHUSDT"], 60.0)).get() == 1
    assert time.monotonic() - started < settings.PRICEHUB_ROUND_MAX_SECONDS + 0.5
    assert sources("ETHUSDT")["binance"] == "timeout"


def test_a_venue_that_fails_keeps_its_last_good_quote_with_its_age(binance):
    prices_refresh(symbols=["BTCUSDT"], deadline=time.monotonic() + 2)
    first = {source.exchange: source for source in price_cache.latest_price("BTCUSDT").sources}
    set_fault(binance, "BTCUSDT", "down")
    prices_refresh(symbols=["BTCUSDT"], deadline=time.monotonic() + 2)
    price = price_cache.latest_price("BTCUSDT")
    kept = {source.exchange: source for source in price.sources}["binance"]
    assert (kept.status, kept.reason) == ("used", None)
    assert kept.detail.startswith("last good quote kept; no new one: ")
    assert (kept.price, kept.quoted_at) == (first["binance"].price, first["binance"].quoted_at)
    assert kept.quoted_at < price.aggregated_at
    document = json.loads(codec.published(price).document)
    assert document["sources"][0]["quoted_at"] == kept.quoted_at.isoformat().replace("+00:00", "Z")


def test_a_last_good_quote_older_than_the_age_limit_is_not_kept(binance, settings):
    settings.PRICEHUB_MAX_QUOTE_AGE_SECONDS = 1.0
    prices_refresh(symbols=["BTCUSDT"], deadline=time.monotonic() + 2)
    set_fault(binance, "BTCUSDT", "down")
    time.sleep(1.2)
    prices_refresh(symbols=["BTCUSDT"], deadline=time.monotonic() + 2)
    assert sources("BTCUSDT")["binance"] == "venue_error"

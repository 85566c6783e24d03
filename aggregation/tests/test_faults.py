"""Each venue fault, injected into a real simulated venue, handled end to end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from aggregation.models import Asset
from aggregation.services import price_refresh
from exchanges.models import Exchange
from mock_exchange_app.control import clear_faults, set_fault, true_price

pytestmark = pytest.mark.usefixtures("stores", "venue_rows", "healthy_venues")


@pytest.fixture
def healthy_venues(venues: dict[str, str]) -> Iterator[None]:
    yield
    for url in venues.values():
        clear_faults(url)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"mode": "down"}, "venue_error"),
        ({"mode": "slow", "delay": 1.5}, "timeout"),
        ({"mode": "garbage", "kind": "html"}, "bad_response"),
        ({"mode": "garbage", "kind": "truncated"}, "bad_response"),
        ({"mode": "garbage", "kind": "nan"}, "bad_response"),
        ({"mode": "garbage", "kind": "types"}, "bad_response"),
        ({"mode": "stale", "age": 120}, "stale"),
        ({"mode": "outlier", "factor": "1.05"}, "outlier"),
    ],
    ids=lambda value: value.get("kind", value.get("mode")) if isinstance(value, dict) else value,
)
def test_it_prices_from_the_healthy_venues_and_says_why_one_was_excluded(venues, fault, reason):
    Exchange.objects.filter(name="binance").update(timeout_seconds=0.5)
    set_fault(venues["binance"], "BTCUSDT", **fault)
    price = price_refresh(symbol="BTCUSDT")
    binance = next(source for source in price.sources if source.exchange == "binance")
    truth = true_price(venues["coinbase"], "BTCUSDT", at=price.aggregated_at)
    assert (len(price.used), binance.status, binance.reason) == (5, "excluded", reason)
    assert abs(price.price - truth) / truth < Decimal("0.001")


def test_it_serves_the_last_good_price_as_stale_when_every_venue_is_down(venues, settings):
    settings.PRICEHUB_REFRESH_FRESH_SECONDS = 0  # the POST asks the venues again
    good = price_refresh(symbol="BTCUSDT")
    for url in venues.values():
        set_fault(url, "*", "down")
    api = APIClient()
    refresh = api.post("/refresh/BTCUSDT")
    body = api.get("/prices/BTCUSDT").json()
    assert (refresh.status_code, refresh.json()["error"]) == (503, "no_quorum")
    assert (body["price"], body["stale"]) == (float(good.price), True)
    assert [s["reason"] for s in body["last_refresh_error"]["sources"]] == ["venue_error"] * 6


def test_it_publishes_nothing_below_the_asset_s_quorum(venues):
    Asset.objects.filter(symbol="ETHUSDT").update(quorum=6)
    set_fault(venues["kraken"], "ETHUSDT", "down")
    response = APIClient().post("/refresh/ETHUSDT")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("5 of 6 venues gave a usable quote for ETHUSDT; 6")


def test_it_reports_outliers_rather_than_fall_below_the_quorum(venues):
    # Two venues left: the outlier cannot be told from the other without falling below quorum.
    Exchange.objects.exclude(name__in=["binance", "coinbase"]).update(enabled=False)
    set_fault(venues["binance"], "BTCUSDT", "outlier", factor="1.05")
    response = APIClient().post("/refresh/BTCUSDT")
    assert response.status_code == 503
    assert {s["reason"] for s in response.json()["sources"]} == {"outlier"}


def test_it_excludes_a_stuck_venue_whose_ticker_has_no_time(venues, settings):
    settings.PRICEHUB_MAX_QUOTE_AGE_SECONDS = 1
    set_fault(venues["kraken"], "BTCUSDT", "stale", age=120)
    price_refresh(symbol="BTCUSDT")
    time.sleep(1.1)
    price = price_refresh(symbol="BTCUSDT")
    kraken = next(source for source in price.sources if source.exchange == "kraken")
    assert (kraken.status, kraken.reason) == ("excluded", "stale")


def test_it_uses_a_moving_venue_whose_ticker_has_no_time(venues, settings):
    settings.PRICEHUB_MAX_QUOTE_AGE_SECONDS = 1
    price_refresh(symbol="BTCUSDT")
    time.sleep(1.1)
    price = price_refresh(symbol="BTCUSDT")
    kraken = next(source for source in price.sources if source.exchange == "kraken")
    assert kraken.status == "used"

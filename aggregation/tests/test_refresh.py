from __future__ import annotations

import time
from decimal import Decimal

import pytest
import requests

from aggregation import price_cache
from aggregation.history import backlog, reads, store
from aggregation.models import Asset
from aggregation.price import RefreshInProgress, UnknownAsset
from aggregation.services import NoQuorum, price_refresh
from deploy.services import free_port
from exchanges.models import Exchange
from mock_exchange_app.market import VENUES as VENUE_KINDS

pytestmark = pytest.mark.usefixtures("stores", "venue_rows")


def true_price(venues: dict[str, str], symbol: str) -> Decimal:
    return Decimal(
        requests.get(f"{venues['binance']}/sim/truth/{symbol}", timeout=5).json()["price"]
    )


def take_venue_down(name: str) -> None:
    Exchange.objects.filter(name=name).update(base_url=f"http://127.0.0.1:{free_port()}")


def test_it_aggregates_all_six_venues_close_to_the_true_price(venues):
    price = price_refresh(symbol="BTCUSDT")
    truth = true_price(venues, "BTCUSDT")
    assert len(price.used) == 6
    assert abs(price.price - truth) / truth < Decimal("0.002")


def test_it_keeps_the_latest_price_in_redis():
    price = price_refresh(symbol="ETHUSDT")
    assert price_cache.latest_price("ETHUSDT") == price


def test_it_hands_the_price_to_history_which_the_drain_stores():
    price = price_refresh(symbol="SOLUSDT")
    assert reads.latest("SOLUSDT") is None
    assert backlog.drain() == [price]
    assert reads.latest("SOLUSDT") == price


def test_it_excludes_a_venue_that_is_down_with_its_reason():
    take_venue_down("kraken")
    price = price_refresh(symbol="BTCUSDT")
    kraken = next(source for source in price.sources if source.exchange == "kraken")
    assert (len(price.used), kraken.status) == (5, "excluded")
    assert kraken.reason.startswith("unreachable")


def test_it_does_not_ask_a_disabled_venue():
    Exchange.objects.filter(name="coinbase").update(enabled=False)
    price = price_refresh(symbol="BTCUSDT")
    assert [source.exchange for source in price.sources] == [
        "binance",
        "bitstamp",
        "bybit",
        "kraken",
        "okx",
    ]


def test_it_reports_each_venue_error_when_none_answers():
    for name in VENUE_KINDS:
        take_venue_down(name)
    with pytest.raises(NoQuorum) as raised:
        price_refresh(symbol="BTCUSDT")
    assert [source.status for source in raised.value.sources] == ["excluded"] * 6


def test_it_keeps_the_last_good_price_when_no_venue_answers():
    good = price_refresh(symbol="BTCUSDT")
    for name in VENUE_KINDS:
        take_venue_down(name)
    with pytest.raises(NoQuorum):
        price_refresh(symbol="BTCUSDT")
    assert price_cache.latest_price("BTCUSDT") == good


def test_it_excludes_a_venue_that_does_not_list_the_asset():
    Asset.objects.create(symbol="NOPEUSDT", base="NOPE", quote="USDT")
    with pytest.raises(NoQuorum, match="binance does not list this pair"):
        price_refresh(symbol="NOPEUSDT")


def test_it_refuses_a_disabled_asset():
    Asset.objects.filter(symbol="ADAUSDT").update(enabled=False)
    with pytest.raises(UnknownAsset):
        price_refresh(symbol="ADAUSDT")


def test_an_older_price_never_replaces_a_newer_one_nor_joins_history(history_count, settings):
    settings.PRICEHUB_HISTORY_HEARTBEAT_SECONDS = 0  # every newer price is recorded
    older = price_refresh(symbol="BTCUSDT")
    newer = price_refresh(symbol="BTCUSDT")
    assert price_cache.publish([older], []) == []
    assert price_cache.latest_price("BTCUSDT") == newer
    assert len(backlog.drain()) == 2
    assert store.record([older]) == []
    assert history_count("BTCUSDT") == 2


def test_a_lock_that_expired_is_never_released_from_under_its_next_holder(settings):
    settings.PRICEHUB_REFRESH_LOCK_SECONDS = 0.1
    first = price_cache.refresh_lock("BTCUSDT")
    first.__enter__()
    time.sleep(0.15)
    with price_cache.refresh_locks(["BTCUSDT"]) as second:
        assert second == {"BTCUSDT"}
        first.__exit__(None, None, None)
        with pytest.raises(RefreshInProgress):
            price_refresh(symbol="BTCUSDT")
    price_refresh(symbol="BTCUSDT")

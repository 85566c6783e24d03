from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from django.test import override_settings

from aggregation import copies, price_cache
from aggregation.history import store
from aggregation.methods import median_of
from aggregation.models import Asset
from aggregation.price import AggregatedPrice, Source, whole_ms
from aggregation.services import price_refresh
from deploy.services import free_port
from exchanges.models import Exchange

pytestmark = pytest.mark.usefixtures("stores", "venue_rows")


def stored_price(symbol: str, *, age: timedelta) -> AggregatedPrice:
    moment = whole_ms(datetime.now(UTC) - age)
    return AggregatedPrice(
        asset=symbol,
        price=Decimal("67000.5"),
        method="vwap",
        last_updated=moment,
        aggregated_at=moment,
        sources=(Source("binance", "used", price=Decimal("67000.5"), volume=Decimal("10")),),
    )


def test_it_serves_the_latest_price_with_every_contract_field(api):
    price_refresh(symbol="BTCUSDT")
    body = api.get("/prices/BTCUSDT").json()
    assert set(body) >= {
        "asset", "price", "last_updated", "method", "sources_used", "sources_total", "stale",
        "age_seconds", "sources",
    }  # fmt: skip
    assert (body["asset"], body["method"], body["sources_used"], body["stale"]) == (
        "BTCUSDT", "vwap", 6, False,
    )  # fmt: skip


def test_it_renders_prices_as_json_numbers(api):
    price_refresh(symbol="BTCUSDT")
    body = api.get("/prices/BTCUSDT").json()
    assert isinstance(body["price"], float)
    assert isinstance(body["sources"][0]["volume"], float)


def test_it_gives_last_updated_in_utc(api):
    price_cache.publish([stored_price("BTCUSDT", age=timedelta(0))], [])
    assert api.get("/prices/BTCUSDT").json()["last_updated"].endswith("Z")


def test_it_accepts_a_lower_case_symbol_and_echoes_it_upper_case(api):
    price_refresh(symbol="ETHUSDT")
    response = api.get("/prices/ethusdt")
    assert (response.status_code, response.json()["asset"]) == (200, "ETHUSDT")


def test_it_reports_each_source_with_its_status(api):
    Exchange.objects.filter(name="kraken").update(base_url=f"http://127.0.0.1:{free_port()}")
    price_refresh(symbol="BTCUSDT")
    sources = api.get("/prices/BTCUSDT").json()["sources"]
    assert [(s["exchange"], s["status"]) for s in sources] == [
        ("binance", "used"), ("bitstamp", "used"), ("bybit", "used"), ("coinbase", "used"),
        ("kraken", "excluded"), ("okx", "used"),
    ]  # fmt: skip


def test_it_rejects_a_malformed_symbol(api):
    response = api.get("/prices/BTC-USDT!")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_asset"


def test_it_answers_404_for_an_unknown_asset(api):
    response = api.get("/prices/NOPECOINUSDT")
    assert response.status_code == 404
    assert response.json() == {
        "error": "unknown_asset", "detail": "PriceHub does not price NOPECOINUSDT.",
    }  # fmt: skip


def test_it_answers_503_when_no_price_exists_yet(api):
    response = api.get("/prices/AVAXUSDT")
    assert (response.status_code, response.json()["error"]) == (503, "no_price")


def test_it_falls_back_to_dynamodb_when_redis_has_no_price(api):
    store.append(stored_price("XRPUSDT", age=timedelta(seconds=2)))
    body = api.get("/prices/XRPUSDT").json()
    assert (body["asset"], body["price"]) == ("XRPUSDT", 67000.5)


def test_reads_of_an_asset_redis_has_no_price_for_ask_dynamodb_once_a_history_copy(
    api, settings, monkeypatch
):
    monkeypatch.setattr(copies, "_history", {})  # none kept by earlier tests
    settings.PRICEHUB_HISTORY_COPY_SECONDS = 60
    assert api.get("/prices/XRPUSDT").status_code == 503  # nowhere; this process notes it
    store.append(stored_price("XRPUSDT", age=timedelta(seconds=2)))
    assert api.get("/prices/XRPUSDT").status_code == 503  # DynamoDB not asked again yet
    settings.PRICEHUB_HISTORY_COPY_SECONDS = 0
    assert api.get("/prices/XRPUSDT").json()["price"] == 67000.5
    settings.PRICEHUB_HISTORY_COPY_SECONDS = 60
    price_cache.publish([stored_price("XRPUSDT", age=timedelta(seconds=0))], [])
    assert api.get("/prices/XRPUSDT").json()["stale"] is False  # Redis first, whatever is kept


def test_it_serves_history_while_redis_is_unreachable(api, settings):
    store.append(stored_price("BTCUSDT", age=timedelta(seconds=2)))
    dead = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}"}
    }
    with override_settings(CACHES=dead):
        response = api.get("/prices/BTCUSDT")
    assert (response.status_code, response.json()["price"]) == (200, 67000.5)


def test_it_marks_an_old_price_stale_with_its_age(api):
    price_cache.publish([stored_price("BTCUSDT", age=timedelta(minutes=5))], [])
    body = api.get("/prices/BTCUSDT").json()
    assert body["stale"] is True
    assert 299 < body["age_seconds"] < 310


def test_staleness_and_lifetime_follow_the_tier_settings(api, settings):
    price_cache.publish([stored_price("BTCUSDT", age=timedelta(seconds=20))], [])
    answer = api.get("/prices/BTCUSDT")  # hot: stale after 5 s at the least, kept 1 s
    assert (answer.json()["stale"], answer["Cache-Control"]) == (True, "max-age=1")
    settings.PRICEHUB_TIER_SECONDS = {**settings.PRICEHUB_TIER_SECONDS, "hot": 30}
    answer = api.get("/prices/BTCUSDT")
    assert (answer.json()["stale"], answer["Cache-Control"]) == (False, "max-age=30")


def test_it_refreshes_on_post_and_answers_the_new_price(api):
    response = api.post("/refresh/btcusdt")
    body = response.json()
    assert (response.status_code, body["message"]) == (200, "Price for BTCUSDT refreshed")
    assert body["price"]["sources_used"] == 6
    assert api.get("/prices/BTCUSDT").json()["price"] == body["price"]["price"]


def test_it_rejects_a_refresh_of_a_malformed_symbol(api):
    response = api.post("/refresh/%20")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_asset")


def test_it_rejects_a_refresh_of_an_unknown_asset(api):
    response = api.post("/refresh/NOPECOINUSDT")
    assert (response.status_code, response.json()["error"]) == (404, "unknown_asset")


def test_it_answers_503_no_quorum_with_each_venue_reason(api):
    Exchange.objects.update(base_url=f"http://127.0.0.1:{free_port()}")
    response = api.post("/refresh/BTCUSDT")
    body = response.json()
    assert (response.status_code, body["error"]) == (503, "no_quorum")
    assert [s["status"] for s in body["sources"]] == ["excluded"] * 6


def test_it_answers_503_naming_each_venue_refused_for_a_private_address(api, settings):
    settings.PRICEHUB_VENUE_PRIVATE_ADDRESSES = False
    response = api.post("/refresh/BTCUSDT")
    body = response.json()
    assert (response.status_code, body["error"]) == (503, "no_quorum")
    assert {s["reason"] for s in body["sources"]} == {"unreachable"}
    for source in body["sources"]:
        assert source["detail"].startswith("refused: 'http://127.0.0.1:"), source
        assert source["detail"].endswith("name its host in VENUE_PRIVATE_HOSTS to allow it.")


def test_it_answers_405_in_the_error_format(api):
    response = api.get("/refresh/BTCUSDT")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_it_answers_an_unknown_path_with_a_json_404(api):
    response = api.get("/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.usefixtures("seeded_assets")
def test_it_serves_prices_over_http(live_server):
    price_refresh(symbol="BTCUSDT")
    response = requests.get(f"{live_server.url}/prices/btcusdt", timeout=5)
    assert (response.status_code, response.headers["Content-Type"]) == (200, "application/json")
    assert response.json()["asset"] == "BTCUSDT"


def test_it_prices_by_another_method_on_request(api):
    price = price_refresh(symbol="BTCUSDT")
    body = api.get("/prices/BTCUSDT?method=median").json()
    # Six prices: the mean of the two middle ones.
    middle = median_of([source.price for source in price.used])
    assert (body["method"], body["price"]) == ("median", pytest.approx(float(middle), rel=1e-11))


def test_it_rejects_an_unknown_method(api):
    response = api.get("/prices/BTCUSDT?method=average")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_method")


def test_it_says_how_much_to_trust_the_price(api):
    price_refresh(symbol="BTCUSDT")
    body = api.get("/prices/BTCUSDT").json()
    volumes = sum(Decimal(str(source["volume"])) for source in body["sources"])
    assert body["best_bid"] == max(source["bid"] for source in body["sources"])
    assert body["best_ask"] == min(source["ask"] for source in body["sources"])
    assert 0 < body["confidence"] < body["price"] * 0.001
    assert body["volume"] == pytest.approx(float(volumes))


def test_it_uses_the_asset_s_default_method(api):
    Asset.objects.filter(symbol="SOLUSDT").update(method="mid")
    price_refresh(symbol="SOLUSDT")
    body = api.get("/prices/SOLUSDT").json()
    mid = (Decimal(str(body["best_bid"])) + Decimal(str(body["best_ask"]))) / 2
    assert (body["method"], Decimal(str(body["price"]))) == ("mid", mid)


def test_it_rejects_a_symbol_with_a_trailing_newline(api):
    response = api.get("/prices/BTCUSDT%0A")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_asset")

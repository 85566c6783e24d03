"""Batch prices, history, candles, assets, throttling and HTTP caching."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from redis.exceptions import RedisError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIRequestFactory

from aggregation.api.prices import RefreshAnonThrottle, RefreshView
from aggregation.api.reads import ReadThrottle
from aggregation.history import backlog, store
from aggregation.models import Asset
from aggregation.price import AggregatedPrice, Source, epoch_ms
from aggregation.services import price_refresh
from deploy.services import free_port

pytestmark = pytest.mark.usefixtures("stores", "venue_rows")

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def point(seconds: float, price: str, symbol: str = "BTCUSDT") -> AggregatedPrice:
    moment = T0 + timedelta(seconds=seconds)
    source = Source("binance", "used", price=Decimal(price), volume=Decimal(1))
    return AggregatedPrice(symbol, Decimal(price), "vwap", moment, moment, (source,))


@pytest.fixture
def stored(stores: None) -> None:
    """Five points a minute apart, 100 to 104, and one of another asset."""
    for minute in range(5):
        store.append(point(minute * 60, str(100 + minute)))
    store.append(point(0, "7", symbol="ETHUSDT"))


def test_it_serves_several_assets_in_one_call(api):
    price_refresh(symbol="BTCUSDT")
    price_refresh(symbol="ETHUSDT")
    body = api.get("/prices?assets=btcusdt,ETHUSDT").json()
    assert [price["asset"] for price in body["prices"]] == ["BTCUSDT", "ETHUSDT"]
    assert body["errors"] == []


def test_it_reports_each_bad_asset_of_a_batch_without_failing_it(api):
    price_refresh(symbol="BTCUSDT")
    body = api.get("/prices?assets=BTCUSDT,NOPEUSDT,BAD-ONE,AVAXUSDT").json()
    assert [price["asset"] for price in body["prices"]] == ["BTCUSDT"]
    assert [(e["asset"], e["error"]) for e in body["errors"]] == [
        ("NOPEUSDT", "unknown_asset"),
        ("BAD-ONE", "invalid_asset"),
        ("AVAXUSDT", "no_price"),
    ]


def test_it_bounds_the_length_of_a_batch(api):
    response = api.get("/prices?assets=" + ",".join(f"A{n}USDT" for n in range(51)))
    assert (response.status_code, response.json()["error"]) == (400, "too_many_assets")


def test_it_asks_for_the_assets_of_a_batch(api):
    response = api.get("/prices")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


@pytest.mark.usefixtures("stored")
def test_it_serves_history_newest_first_by_default(api):
    body = api.get(f"/prices/BTCUSDT/history?start={epoch_ms(T0)}&end=2026-11-25T13:00:00Z").json()
    assert [p["price"] for p in body["points"]] == [104, 103, 102, 101, 100]
    assert body["points"][0]["time"] == "2026-11-25T12:04:00Z"
    assert body["next_cursor"] is None


@pytest.mark.usefixtures("stored")
def test_it_pages_history_with_a_cursor(api):
    url = "/prices/BTCUSDT/history?start=2026-11-25T12:00:00&end=2026-11-25T12:10:00&order=asc"
    first = api.get(f"{url}&limit=3").json()
    second = api.get(f"{url}&limit=3&cursor={first['next_cursor']}").json()
    assert [p["price"] for p in first["points"] + second["points"]] == [100, 101, 102, 103, 104]


@pytest.mark.usefixtures("stored")
def test_it_limits_history_to_the_range(api):
    body = api.get(
        "/prices/BTCUSDT/history?start=2026-11-25T12:01:00&end=2026-11-25T12:02:00"
    ).json()
    assert [p["price"] for p in body["points"]] == [102, 101]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("start=yesterday", "invalid_range"),
        ("start=2026-11-25T13:00:00&end=2026-11-25T12:00:00", "invalid_range"),
        ("order=sideways", "invalid_order"),
        ("limit=0", "invalid_limit"),
        ("limit=1001", "invalid_limit"),
        ("cursor=not-a-cursor", "invalid_cursor"),
    ],
)
def test_it_rejects_a_bad_history_request(api, query, error):
    response = api.get(f"/prices/BTCUSDT/history?{query}")
    assert (response.status_code, response.json()["error"]) == (400, error)


@pytest.mark.usefixtures("stored")
def test_it_builds_candles_from_the_stored_points(api):
    body = api.get(
        "/prices/BTCUSDT/candles?interval=5m&start=2026-11-25T12:00:00Z&end=2026-11-25T12:30:00Z"
    ).json()
    assert body["candles"] == [
        {
            "start": "2026-11-25T12:00:00Z",
            "open": 100,
            "high": 104,
            "low": 100,
            "close": 104,
            "points": 5,
        }
    ]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("interval=2m", "invalid_interval"),
        ("start=2026-01-01T00:00:00&end=2026-11-25T00:00:00&interval=1m", "range_too_large"),
        ("interval=1h&start=nope", "invalid_range"),
    ],
)
def test_it_rejects_a_bad_candles_request(api, query, error):
    response = api.get(f"/prices/BTCUSDT/candles?{query}")
    assert (response.status_code, response.json()["error"]) == (400, error)


def test_it_lists_the_configured_assets(api):
    assets = api.get("/assets").json()["assets"]
    btc = next(asset for asset in assets if asset["symbol"] == "BTCUSDT")
    assert {asset["symbol"] for asset in assets} == set(
        Asset.objects.values_list("symbol", flat=True)
    )
    assert (btc["tier"], btc["refresh_seconds"], btc["method"], btc["enabled"]) == (
        "hot",
        1.0,
        "vwap",
        True,
    )


def test_it_throttles_anonymous_refreshes_with_retry_after(api, settings):
    responses = [api.post("/refresh/BTCUSDT") for _ in range(11)]
    assert [r.status_code for r in responses[:10]] == [200] * 10
    assert (responses[10].status_code, responses[10].json()["error"]) == (429, "throttled")
    assert int(responses[10]["Retry-After"]) > 0


@pytest.fixture
def two_refreshes_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RefreshAnonThrottle, "THROTTLE_RATES", {"refresh_anon": "2/min"})


@pytest.mark.usefixtures("two_refreshes_a_minute")
def test_a_client_cannot_escape_the_throttle_by_writing_x_forwarded_for(api):
    statuses = [
        api.post("/refresh/BTCUSDT", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]


@pytest.mark.usefixtures("two_refreshes_a_minute")
def test_behind_one_proxy_each_client_has_its_own_quota(api, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def post(client: str) -> int:
        # The proxy appends the address it saw to what the client sent.
        forwarded = f"203.0.113.9, {client}"
        return api.post("/refresh/BTCUSDT", HTTP_X_FORWARDED_FOR=forwarded).status_code

    assert [post("198.51.100.1") for _ in range(3)] == [200, 200, 429]
    assert post("198.51.100.2") == 200


@pytest.mark.usefixtures("two_refreshes_a_minute")
def test_the_addresses_of_one_ipv6_64_share_one_quota(api):
    def post(address: str) -> int:
        return api.post("/refresh/BTCUSDT", REMOTE_ADDR=address).status_code

    assert [post(f"2001:db8:1:2::{n}") for n in (1, 2, 3)] == [200, 200, 429]
    assert post("2001:db8:1:3::1") == 200


@pytest.mark.usefixtures("two_refreshes_a_minute")
def test_only_a_post_spends_the_refresh_quota(api):
    others = [call("/refresh/BTCUSDT") for call in [api.options, api.get, api.put] * 3]
    assert [r.status_code for r in others] == [200, 405, 405] * 3
    assert [api.post("/refresh/BTCUSDT").status_code for _ in range(3)] == [200, 200, 429]
    assert api.get("/refresh/BTCUSDT").status_code == 405


@pytest.mark.django_db
def test_it_lets_a_token_refresh_past_the_anonymous_limit(api):
    token = Token.objects.create(user=User.objects.create_user("client"))
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    statuses = {api.post("/refresh/ETHUSDT").status_code for _ in range(12)}
    assert statuses == {200}


def test_it_rejects_an_unknown_token(api):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = api.post("/refresh/BTCUSDT")
    assert (response.status_code, response.json()["error"]) == (401, "authentication_failed")


def test_it_throttles_reads_only_when_asked(api, settings, monkeypatch):
    price_refresh(symbol="BTCUSDT")
    monkeypatch.setattr(ReadThrottle, "THROTTLE_RATES", {"read": "3/min"})
    free = {api.get("/prices/BTCUSDT").status_code for _ in range(5)}
    settings.PRICEHUB_THROTTLE_READS = True
    limited = [api.get("/prices/BTCUSDT").status_code for _ in range(4)]
    assert (free, limited[-1]) == ({200}, 429)


@pytest.fixture
def redis_down(settings) -> Iterator[None]:
    dead = f"redis://127.0.0.1:{free_port()}"
    with override_settings(CACHES={"default": {**settings.CACHES["default"], "LOCATION": dead}}):
        yield


@pytest.mark.usefixtures("redis_down")
def test_the_refresh_throttle_lets_nothing_through_that_it_cannot_count():
    view = RefreshView()
    view.request = view.initialize_request(APIRequestFactory().post("/refresh/BTCUSDT"))
    with pytest.raises(RedisError):
        view.check_throttles(view.request)


@pytest.mark.usefixtures("redis_down")
def test_a_refresh_while_redis_is_down_is_a_json_503(api):
    response = api.post("/refresh/BTCUSDT")
    assert (response.status_code, response.json()["error"]) == (503, "unavailable")


def test_it_tells_caches_how_long_a_price_holds(api):
    price_refresh(symbol="ETHUSDT")
    response = api.get("/prices/ETHUSDT")
    assert response["Cache-Control"] == "max-age=1"
    assert response["ETag"].startswith('W/"ETHUSDT-vwap-')


def test_it_answers_304_while_the_price_is_unchanged(api):
    price_refresh(symbol="BTCUSDT")
    etag = api.get("/prices/BTCUSDT")["ETag"]
    assert api.get("/prices/BTCUSDT", HTTP_IF_NONE_MATCH=etag).status_code == 304
    price_refresh(symbol="BTCUSDT")
    assert api.get("/prices/BTCUSDT", HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_a_refresh_succeeds_while_dynamodb_is_down_and_its_point_is_stored_after(
    api, settings, history_count
):
    endpoint = settings.DYNAMODB_ENDPOINT_URL
    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    refresh = api.post("/refresh/BTCUSDT")
    history_page = api.get("/prices/BTCUSDT/history")
    assert refresh.status_code == 200
    assert (history_page.status_code, history_page.json()["error"]) == (503, "unavailable")
    assert backlog.drain() == []  # DynamoDB still down: the point waits
    settings.DYNAMODB_ENDPOINT_URL = endpoint
    assert len(backlog.drain()) == 1
    times = [point["time"] for point in api.get("/prices/BTCUSDT/history").json()["points"]]
    assert times == [refresh.json()["price"]["aggregated_at"]]


def test_an_empty_parameter_takes_its_default_and_a_repeated_one_its_last_value(api):
    empty = api.get("/prices/BTCUSDT/history", {"start": "", "end": "", "limit": "", "order": ""})
    assert (empty.status_code, empty.json()["order"]) == (200, "desc")
    repeated = api.get("/prices/BTCUSDT/history?order=desc&order=asc")
    assert repeated.json()["order"] == "asc"
    candles = api.get("/prices/BTCUSDT/candles?interval=1m&start=")
    assert candles.status_code == 200

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from aggregation.services import price_refresh
from deploy.services import free_port
from mock_exchange_app import control

pytestmark = pytest.mark.usefixtures("stores", "venue_rows")


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def token_api() -> APIClient:
    client = APIClient()
    token = Token.objects.create(user=User.objects.create_user("reader"))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def binance_down(venues, settings) -> Iterator[None]:
    settings.PRICEHUB_CIRCUIT_FAIL_MAX = 2
    control.set_fault(venues["binance"], "*", "down")
    yield
    control.clear_faults(venues["binance"])


def test_it_lists_the_six_venues_with_their_health_after_a_refresh(api):
    price_refresh(symbol="BTCUSDT")
    venues = api.get("/exchanges").json()["exchanges"]
    assert [
        (venue["name"], venue["circuit"], venue["requests"], venue["error_rate"])
        for venue in venues
    ] == [
        ("binance", "closed", 1, 0.0),
        ("bitstamp", "closed", 1, 0.0),
        ("bybit", "closed", 1, 0.0),
        ("coinbase", "closed", 1, 0.0),
        ("kraken", "closed", 1, 0.0),
        ("okx", "closed", 1, 0.0),
    ]


def test_it_gives_each_venue_its_settings_and_health(token_api, venues):
    price_refresh(symbol="BTCUSDT")
    exchanges = token_api.get("/exchanges").json()["exchanges"]
    kraken = next(v for v in exchanges if v["name"] == "kraken")
    assert {key: kraken[key] for key in ("name", "kind", "base_url", "enabled", "last_error")} == {
        "name": "kraken", "kind": "kraken", "base_url": venues["kraken"], "enabled": True,
        "last_error": None,
    }  # fmt: skip
    assert kraken["last_success"].endswith("Z")
    assert set(kraken["latency_ms"]) == {"mean", "p95"}


@pytest.mark.usefixtures("binance_down")
def test_it_shows_an_open_circuit_with_the_last_error_to_a_token_holder(token_api):
    price_refresh(symbol="BTCUSDT")
    price_refresh(symbol="ETHUSDT")
    binance = token_api.get("/exchanges").json()["exchanges"][0]
    error = binance["last_error"]
    assert (binance["circuit"], error["reason"], error["detail"]) == (
        "open",
        "venue_error",
        "binance answered HTTP 503",
    )


@pytest.mark.usefixtures("binance_down")
def test_it_gives_anyone_else_no_base_url_and_the_last_errors_reason_only(api, venues):
    price_refresh(symbol="BTCUSDT")
    price_refresh(symbol="ETHUSDT")
    response = api.get("/exchanges")
    binance = response.json()["exchanges"][0]
    assert "base_url" not in binance
    assert set(binance["last_error"]) == {"at", "reason"}
    assert venues["binance"] not in response.content.decode()
    assert "HTTP 503" not in response.content.decode()


@pytest.mark.usefixtures("binance_down")
def test_it_shows_staff_signed_in_to_the_admin_the_base_url_and_the_last_error(venues):
    price_refresh(symbol="BTCUSDT")
    staff, reader = APIClient(), APIClient()
    staff.force_login(User.objects.create_user("operator", is_staff=True))
    reader.force_login(User.objects.create_user("someone"))
    binance = staff.get("/exchanges").json()["exchanges"][0]
    assert (binance["base_url"], binance["last_error"]["detail"]) == (
        venues["binance"],
        "binance answered HTTP 503",
    )
    assert "base_url" not in reader.get("/exchanges").json()["exchanges"][0]


def test_it_answers_unavailable_while_redis_is_unreachable(api, settings):
    dead = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}"}
    }
    with override_settings(CACHES=dead):
        response = api.get("/exchanges")
    assert (response.status_code, response.json()["error"]) == (503, "unavailable")

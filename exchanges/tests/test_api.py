from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from aggregation.services import price_refresh
from deploy.services import free_port
from mock_exchange_app import control

pytestmark = pytest.mark.usefixtures("stores", "venue_rows")


@pytest.fixture
def api() -> APIClient:
    return APIClient()


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


def test_it_gives_each_venue_its_settings_and_health(api, venues):
    price_refresh(symbol="BTCUSDT")
    kraken = next(v for v in api.get("/exchanges").json()["exchanges"] if v["name"] == "kraken")
    assert {key: kraken[key] for key in ("name", "kind", "base_url", "enabled", "last_error")} == {
        "name": "kraken", "kind": "kraken", "base_url": venues["kraken"], "enabled": True,
        "last_error": None,
    }  # fmt: skip
    assert kraken["last_success"].endswith("Z")
    assert set(kraken["latency_ms"]) == {"mean", "p95"}


@pytest.mark.usefixtures("binance_down")
def test_it_shows_an_open_circuit_with_the_last_error(api):
    price_refresh(symbol="BTCUSDT")
    price_refresh(symbol="ETHUSDT")
    binance = api.get("/exchanges").json()["exchanges"][0]
    detail = binance["last_error"]["detail"]
    assert (binance["circuit"], detail) == ("open", "binance answered HTTP 503")


def test_it_answers_unavailable_while_redis_is_unreachable(api, settings):
    dead = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}"}
    }
    with override_settings(CACHES=dead):
        response = api.get("/exchanges")
    assert (response.status_code, response.json()["error"]) == (503, "unavailable")

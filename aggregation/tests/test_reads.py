"""A plain GET of a read answers on the lean path exactly as through Django and DRF."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import RequestFactory, override_settings
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from aggregation import price_cache
from aggregation.api import reads
from aggregation.history import store
from aggregation.models import Asset
from aggregation.price import AggregatedPrice, RefreshFailure, Source, epoch_ms, whole_ms
from aggregation.services import price_refresh
from common.metrics import flush
from deploy.services import ROOT, free_port
from exchanges.models import Exchange

pytestmark = pytest.mark.usefixtures("stores", "venue_rows")

# Set by each server, not by PriceHub.
_TRANSPORT_HEADERS = {"Content-Length", "Date", "Server"}


def stored_price(symbol: str, *, age: timedelta) -> AggregatedPrice:
    moment = whole_ms(datetime.now(UTC) - age)
    source = Source("binance", "used", price=Decimal("67000.5"), volume=Decimal("10"))
    return AggregatedPrice(symbol, Decimal("67000.5"), "vwap", moment, moment, (source,))


def lean(path: str, method: str = "GET", **headers: str) -> Any:
    """Return the lean path's answer to a request, None when it leaves it to Django."""
    return reads.serve(RequestFactory().generic(method, path, **headers).environ)


def both(path: str, **headers: str) -> tuple[Any, Any]:
    """Return the lean path's answer and Django's (DRF's view) to the same GET."""
    answer = lean(path, **headers)
    assert answer is not None, f"the lean path left {path} to Django"
    return answer, APIClient().get(path, **headers)


def assert_same(path: str, **headers: str) -> dict[str, Any] | None:
    lean, documented = both(path, **headers)
    status, body = lean.status_code, lean.content
    assert status == documented.status_code
    expected = {k: v for k, v in documented.items() if k not in _TRANSPORT_HEADERS}
    got = {k: v for k, v in lean.items() if k not in _TRANSPORT_HEADERS}
    if not expected["ETag"].startswith("W/"):
        # A digest of the body, which holds the moment of each read.
        for etag, content in ((got.pop("ETag"), body), (expected.pop("ETag"), documented.content)):
            assert etag == f'"{hashlib.md5(content, usedforsecurity=False).hexdigest()}"'
    assert got == expected
    if status == 304:
        assert body == documented.content == b""
        return None
    fast_body, documented_body = json.loads(body), documented.json()
    for document in (fast_body, documented_body):
        for price in [document, *document.get("prices", [])]:
            price.pop("age_seconds", None)  # differs by the time between the two reads
    assert fast_body == documented_body
    return fast_body


def test_it_answers_a_fresh_price_as_the_view_does():
    price_refresh(symbol="BTCUSDT")
    body = assert_same("/prices/btcusdt")
    assert (body["asset"], body["stale"], body["sources_used"]) == ("BTCUSDT", False, 6)


def test_it_answers_a_stale_price_as_the_view_does():
    price_cache.publish([stored_price("ETHUSDT", age=timedelta(minutes=5))], [])
    assert assert_same("/prices/ETHUSDT")["stale"] is True


def test_it_answers_a_failing_asset_as_the_view_does():
    price_refresh(symbol="BTCUSDT")
    Exchange.objects.update(base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Exception, match="usable"):
        price_refresh(symbol="BTCUSDT")
    body = assert_same("/prices/BTCUSDT")
    assert body["stale"] is True
    assert [s["reason"] for s in body["last_refresh_error"]["sources"]] == ["unreachable"] * 6


def test_it_answers_another_method_and_a_304_as_the_view_does():
    price_refresh(symbol="SOLUSDT")
    assert assert_same("/prices/SOLUSDT?method=median")["method"] == "median"
    etag = APIClient().get("/prices/SOLUSDT")["ETag"]
    assert_same("/prices/SOLUSDT", HTTP_IF_NONE_MATCH=etag)


def test_it_answers_a_batch_as_the_view_does():
    price_refresh(symbol="BTCUSDT")
    body = assert_same("/prices?assets=BTCUSDT,ethusdt,NOPEUSDT,BAD-ONE,AVAXUSDT,btcusdt")
    assert [p["asset"] for p in body["prices"]] == ["BTCUSDT"]
    assert [e["error"] for e in body["errors"]] == [
        "no_price",
        "unknown_asset",
        "invalid_asset",
        "no_price",
    ]


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/prices/BTC-USDT!", "invalid_asset"),
        ("/prices/BTCUSDT%0A", "invalid_asset"),
        ("/prices/stra%C3%9Fe", "invalid_asset"),
        ("/prices/NOPECOINUSDT", "unknown_asset"),
        ("/prices/BTCUSDT?method=average", "invalid_method"),
        ("/prices/AVAXUSDT", "no_price"),
        ("/prices", "invalid_request"),
        ("/prices?assets=" + ",".join(f"A{n}USDT" for n in range(51)), "too_many_assets"),
    ],
)
def test_it_answers_every_error_as_the_view_does(path, error):
    assert assert_same(path)["error"] == error


def test_it_answers_a_disabled_asset_as_unknown_at_once():
    price_refresh(symbol="XRPUSDT")
    asset = Asset.objects.get(symbol="XRPUSDT")
    asset.enabled = False
    asset.save()
    assert assert_same("/prices/XRPUSDT")["error"] == "unknown_asset"


def test_it_leaves_throttled_reads_writes_and_other_paths_to_django(settings):
    assert lean("/prices/BTCUSDT", method="POST") is None
    assert lean("/prices/BTCUSDT/trades") is None
    assert lean("/assets") is None
    assert lean("/prices/BTCUSDT", method="HEAD") is None
    assert lean("/prices/BTCUSDT", HTTP_AUTHORIZATION="Token abc") is None
    settings.PRICEHUB_THROTTLE_READS = True
    assert lean("/prices/BTCUSDT") is None


def test_it_counts_its_answers_in_the_request_metrics():
    def served() -> float:
        labels = {"status": "404", "view": "price", "method": "GET"}
        name = "pricehub_http_answers_total"
        flush()  # the batch of this process's reads
        return REGISTRY.get_sample_value(name, labels) or 0

    before = served()
    lean("/prices/NOPEUSDT")
    assert served() == before + 1


def test_it_serves_a_copy_no_older_than_the_read_copy_horizon():
    price_cache.publish([stored_price("ADAUSDT", age=timedelta(seconds=1))], [])
    with override_settings(PRICEHUB_READ_COPY_SECONDS=60):
        first = assert_same("/prices/ADAUSDT")
        price_cache.publish([stored_price("ADAUSDT", age=timedelta(0))], [])
        copied = json.loads(lean("/prices/ADAUSDT").content)
    assert copied["aggregated_at"] == first["aggregated_at"]
    assert assert_same("/prices/ADAUSDT")["aggregated_at"] != first["aggregated_at"]


def test_a_price_turning_stale_changes_its_etag():
    # Stale once older than 5 s (three hot intervals, at least 5 s).
    price_cache.publish([stored_price("BTCUSDT", age=timedelta(seconds=4.5))], [])
    etag = APIClient().get("/prices/BTCUSDT")["ETag"]
    time.sleep(0.6)
    response = APIClient().get("/prices/BTCUSDT", HTTP_IF_NONE_MATCH=etag)
    assert (response.status_code, response.json()["stale"]) == (200, True)
    assert response["ETag"] == etag.removesuffix('"') + '-stale"'


def test_a_failed_refresh_changes_the_etag():
    price_cache.publish([stored_price("ETHUSDT", age=timedelta(seconds=1))], [])
    etag = APIClient().get("/prices/ETHUSDT")["ETag"]
    price_cache.publish([], [RefreshFailure("ETHUSDT", datetime.now(UTC), "No quorum.", ())])
    response = APIClient().get("/prices/ETHUSDT", HTTP_IF_NONE_MATCH=etag)
    assert (response.status_code, response.json()["stale"]) == (200, True)


@pytest.fixture
def points(stores: None) -> None:
    """Ten points of BTCUSDT, a minute apart, an hour ago."""
    first = datetime.now(UTC) - timedelta(hours=1)
    for minute in range(10):
        moment = whole_ms(first + timedelta(minutes=minute))
        source = Source("binance", "used", price=Decimal(100 + minute), volume=Decimal(1))
        price = AggregatedPrice(
            "BTCUSDT", Decimal(f"{100 + minute}.5"), "vwap", moment, moment, (source,)
        )
        store.append(price)


@pytest.mark.usefixtures("points")
@pytest.mark.parametrize(
    "query",
    ["", "?limit=3", "?order=asc&limit=4", "?start=0", "?start=2026-11-25T00:00:00"],
)
def test_it_answers_history_as_the_view_does(query):
    body = assert_same(f"/prices/btcusdt/history{query}")
    assert (body["asset"], len(body["points"]) > 0) == ("BTCUSDT", True)


@pytest.mark.usefixtures("points")
@pytest.mark.parametrize("interval", ["1m", "5m", "1h", "1d"])
def test_it_answers_candles_as_the_view_does(interval):
    start = epoch_ms(datetime.now(UTC) - timedelta(hours=2))
    body = assert_same(f"/prices/BTCUSDT/candles?interval={interval}&start={start}")
    assert sum(candle["points"] for candle in body["candles"]) == 10


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/prices/BTCUSDT/history?limit=%C2%B2", "invalid_limit"),
        ("/prices/BTCUSDT/history?limit=0", "invalid_limit"),
        ("/prices/BTCUSDT/history?order=up", "invalid_order"),
        ("/prices/BTCUSDT/history?start=tomorrow", "invalid_range"),
        (
            "/prices/BTCUSDT/history?cursor=" + base64.urlsafe_b64encode(b"[" * 1000).decode(),
            "invalid_cursor",
        ),
        ("/prices/NOPEUSDT/history", "unknown_asset"),
        ("/prices/BTCUSDT/candles", "invalid_interval"),
        ("/prices/BTCUSDT/candles?interval=1m&start=0", "range_too_large"),
    ],
)
def test_it_answers_every_history_error_as_the_view_does(path, error):
    assert assert_same(path)["error"] == error


def test_a_batch_answers_304_until_one_of_its_prices_changes(api):
    price_refresh(symbol="BTCUSDT")
    price_refresh(symbol="ETHUSDT")
    path = "/prices?assets=BTCUSDT,ETHUSDT"
    etag = api.get(path)["ETag"]
    assert api.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 304
    price_refresh(symbol="ETHUSDT")
    assert api.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_the_wsgi_entry_point_serves_reads_itself_and_the_rest_through_django():
    from pricehub.wsgi import application

    answers = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        assert type(headers) is list  # as PEP 3333 asks, and servers check
        answers.append(status)

    def call(path: str) -> bytes:
        return b"".join(application(RequestFactory().get(path).environ, start_response))

    assert json.loads(call("/prices/NOPEUSDT"))["error"] == "unknown_asset"
    assert json.loads(call("/healthz")) == {"status": "ok"}
    assert answers == ["404 Not Found", "200 OK"]


def test_the_wsgi_entry_point_prepares_its_process():
    # In a process of its own, as a server's worker imports it: a full pass of the collector
    # scans only what was made since, not the 120,000-odd objects of Django and PriceHub.
    # It also shortens the interval its threads take turns in, as the settings say, and puts
    # compiled patterns in place of the lazy ones a read's middleware uses.
    show = (
        "import gc, sys, pricehub.wsgi, django.middleware.http as m, django.utils.http as h;"
        "print(len(gc.get_objects()), sys.getswitchinterval(),"
        "type(m.cc_delim_re).__name__, type(h.ETAG_MATCH).__name__, sorted(sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", show],
        cwd=ROOT,
        env={**os.environ, "WEB_SWITCH_INTERVAL_SECONDS": "0.0025"},
        capture_output=True,
        text=True,
        check=True,
    )
    scanned, interval, *patterns, modules = done.stdout.split(" ", 4)
    assert int(scanned) < 1_000
    assert float(interval) == 0.0025
    assert patterns == ["Pattern", "Pattern"]
    assert "'aggregation.api.history'" in modules  # a view module, imported by the URLconf


def production_settings() -> dict[str, Any]:
    """Return what pricehub/settings_production.py sets beyond the base settings, for a
    host named testserver."""
    import pricehub.settings as base

    path = Path(base.__file__).with_name("settings_production.py")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(base, "DEBUG", False)
        patch.setattr(base, "SECRET_KEY", "k3v-Jq9x_Lr2mW8tZp4sNc7yHb1dGf6aUe0oQi5XwVzRjTnYlKgMhBs")
        patch.setattr(base, "DATABASES", {"default": {"ENGINE": "django.db.backends.postgresql"}})
        patch.setenv("ALLOWED_HOSTS", "testserver")
        patch.setenv("VENUE_PRIVATE_ADDRESSES", "true")
        spec = importlib.util.spec_from_file_location("production_under_test", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    # The tests' own: their database, and venues that listen on loopback.
    own = {"DEBUG", "SECRET_KEY", "DATABASES", "PRICEHUB_VENUE_PRIVATE_ADDRESSES"}
    return {
        name: value
        for name, value in vars(module).items()
        if name.isupper() and name not in own and value != getattr(base, name, object())
    }


@pytest.fixture(params=["development", "production"])
def edge(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Run a test under the development settings, then under the production settings over
    HTTPS (through a proxy that says so); yield the headers its requests carry."""
    if request.param == "development":
        yield {}
        return
    overrides = production_settings()
    assert overrides["SECURE_HSTS_SECONDS"] > 0
    assert overrides["SECURE_SSL_REDIRECT"]
    with override_settings(**overrides):
        yield {"HTTP_X_FORWARDED_PROTO": "https"}


def test_reads_answer_alike_under_the_development_and_production_settings(edge):
    price_refresh(symbol="BTCUSDT")
    assert assert_same("/prices/BTCUSDT", **edge)["asset"] == "BTCUSDT"
    etag = APIClient().get("/prices/BTCUSDT", **edge)["ETag"]
    assert assert_same("/prices/BTCUSDT", HTTP_IF_NONE_MATCH=etag, **edge) is None
    assert len(assert_same("/prices?assets=BTCUSDT,NOPEUSDT", **edge)["errors"]) == 1
    for path, error in [("/prices/NOPEUSDT", "unknown_asset"), ("/prices/B!", "invalid_asset")]:
        assert assert_same(path, **edge)["error"] == error
    assert assert_same("/prices/BTCUSDT/candles", **edge)["error"] == "invalid_interval"
    hsts = lean("/prices/BTCUSDT", **edge).get("Strict-Transport-Security")
    assert (hsts is not None) == bool(edge)


def test_a_plain_http_read_is_redirected_to_https_under_production_settings():
    with override_settings(**production_settings()):
        response, documented = both("/prices/BTCUSDT")
    location = "https://testserver/prices/BTCUSDT"
    assert (response.status_code, response["Location"]) == (301, location)
    assert (response.items(), response.content) == (documented.items(), documented.content)


def test_a_refused_host_and_too_many_fields_answer_as_django_does():
    response, documented = both("/prices/BTCUSDT", HTTP_HOST="evil.example")
    assert (response.status_code, json.loads(response.content)["error"]) == (400, "bad_request")
    assert (response.items(), response.content) == (documented.items(), documented.content)
    many = "&".join(f"f{n}=1" for n in range(1001))
    response, documented = both(f"/prices/BTCUSDT?{many}")
    assert (response.status_code, response.content) == (400, documented.content)


def test_every_middleware_is_reviewed_for_the_reads_under_both_settings():
    # A middleware added to MIDDLEWARE must be named in READ_MIDDLEWARE: what it does to a
    # read, or that its hooks run on the lean path.
    assert set(settings.MIDDLEWARE) <= set(reads.READ_MIDDLEWARE)
    with override_settings(**production_settings()):
        assert set(settings.MIDDLEWARE) <= set(reads.READ_MIDDLEWARE)


class Stamp:
    """A middleware that stamps every answer."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        return self.process_response(request, self.get_response(request))

    def process_response(self, request: Any, response: Any) -> Any:
        response["X-Stamp"] = "stamped"
        return response


def test_a_middleware_not_reviewed_sends_the_reads_through_django(monkeypatch):
    price_refresh(symbol="BTCUSDT")
    stamp = f"{__name__}.Stamp"
    stamped = override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, stamp])
    with stamped:
        assert lean("/prices/BTCUSDT") is None
        assert APIClient().get("/prices/BTCUSDT")["X-Stamp"] == "stamped"
    monkeypatch.setitem(reads.READ_MIDDLEWARE, stamp, "runs")  # reviewed: its hooks run
    with stamped:
        assert lean("/prices/BTCUSDT")["X-Stamp"] == "stamped"
        assert_same("/prices/BTCUSDT")


@pytest.mark.parametrize(
    ("setting", "value", "header", "expected"),
    [
        ("X_FRAME_OPTIONS", "SAMEORIGIN", "X-Frame-Options", "SAMEORIGIN"),
        ("SECURE_REFERRER_POLICY", "no-referrer", "Referrer-Policy", "no-referrer"),
        ("SECURE_CONTENT_TYPE_NOSNIFF", False, "X-Content-Type-Options", None),
        ("SECURE_CROSS_ORIGIN_OPENER_POLICY", None, "Cross-Origin-Opener-Policy", None),
    ],
)
def test_the_reads_follow_a_change_of_the_security_settings(setting, value, header, expected):
    price_refresh(symbol="BTCUSDT")
    with override_settings(**{setting: value}):
        assert lean("/prices/BTCUSDT").get(header) == expected
        assert_same("/prices/BTCUSDT")


def test_an_invalid_token_is_refused_on_every_endpoint(api):
    price_refresh(symbol="BTCUSDT")
    gets = ["/prices/BTCUSDT", "/prices?assets=BTCUSDT", "/prices/BTCUSDT/history", "/assets"]
    # The probes (/healthz, /readyz) take no credentials at all: a load balancer asks them.
    gets += ["/prices/BTCUSDT/candles?interval=1m", "/exchanges"]
    for path in gets:
        response = api.get(path, HTTP_AUTHORIZATION="Token not-a-token")
        assert (path, response.status_code) == (path, 401)
        assert response.json()["error"] == "authentication_failed"
    assert api.post("/refresh/BTCUSDT", HTTP_AUTHORIZATION="Token nope").status_code == 401

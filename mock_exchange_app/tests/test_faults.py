from __future__ import annotations

import io
import json
import os
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
import requests

from aggregation.tests.stack import serving, venue_command
from exchanges.adapters import get_adapter
from mock_exchange_app import market
from mock_exchange_app.control import clear_faults, set_fault, true_price
from mock_exchange_app.venues import create_app

AT = datetime(2026, 11, 25, 3, 54, 28, 123456, tzinfo=UTC)
AT_MS = 1795578868123
DOWN_PAGE = b"<html><body><h1>503 Service Unavailable</h1></body></html>"
TICKERS = {  # a BTCUSDT ticker request on each venue
    "binance": ("/api/v3/ticker/24hr", "symbol=BTCUSDT"),
    "coinbase": ("/products/BTC-USDT/ticker", ""),
    "kraken": ("/0/public/Ticker", "pair=XBTUSDT"),
    "okx": ("/api/v5/market/ticker", "instId=BTC-USDT"),
    "bybit": ("/v5/market/tickers", "category=spot&symbol=BTCUSDT"),
    "bitstamp": ("/api/v2/ticker/btcusdt/", ""),
}
Raw = tuple[int, str, bytes]  # status, content type, body


class Venue:
    """One venue app called directly as WSGI, with a clock the test can move."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.now = AT
        self.app = create_app(name, clock=lambda: self.now)

    def call(self, method: str, path: str, query: str = "", body: bytes = b"") -> Raw:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        setup_testing_defaults(environ)
        seen: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            seen["status"], seen["headers"] = status, dict(headers)

        payload = b"".join(self.app(environ, start_response))
        assert seen["headers"]["Content-Length"] == str(len(payload))
        return int(seen["status"].split()[0]), seen["headers"]["Content-Type"], payload

    def put(self, symbol: str, **spec: Any) -> tuple[int, Any]:
        status, _, payload = self.call(
            "PUT", f"/sim/faults/{symbol}", body=json.dumps(spec).encode()
        )
        return status, json.loads(payload)

    def faults(self, method: str = "GET", symbol: str = "") -> Any:
        status, _, payload = self.call(method, f"/sim/faults/{symbol}" if symbol else "/sim/faults")
        assert status == 200
        return json.loads(payload)["faults"]

    def ticker(self) -> Raw:
        return self.call("GET", *TICKERS[self.name])

    def body(self) -> Any:
        status, _, payload = self.ticker()
        assert status == 200
        return json.loads(payload)

    def prices(self) -> tuple[Any, Any, Any]:
        """Return the BTCUSDT ticker's last, bid and ask fields as sent."""
        body = self.body()
        if self.name == "binance":
            return body["lastPrice"], body["bidPrice"], body["askPrice"]
        if self.name == "coinbase":
            return body["price"], body["bid"], body["ask"]
        if self.name == "okx":
            okx = body["data"][0]
            return okx["last"], okx["bidPx"], okx["askPx"]
        if self.name == "bybit":
            bybit = body["result"]["list"][0]
            return bybit["lastPrice"], bybit["bid1Price"], bybit["ask1Price"]
        if self.name == "bitstamp":
            return body["last"], body["bid"], body["ask"]
        btc = body["result"]["XBTUSDT"]
        return btc["c"][0], btc["b"][0], btc["a"][0]


def decimals(price: str) -> int:
    return len(price.split(".")[1])


@pytest.fixture(params=market.VENUES)
def venue(request: pytest.FixtureRequest) -> Venue:
    return Venue(request.param)


def test_it_has_no_faults_until_one_is_set(venue: Venue) -> None:
    assert venue.faults() == {}
    assert venue.ticker()[:2] == (200, "application/json")


def test_it_answers_down_with_a_503_html_page(venue: Venue) -> None:
    assert venue.put("BTCUSDT", mode="down") == (200, {"mode": "down", "since": AT.isoformat()})
    assert venue.ticker() == (503, "text/html", DOWN_PAGE)


def test_it_answers_slow_normally_after_the_delay(venue: Venue) -> None:
    healthy = venue.ticker()
    venue.put("BTCUSDT", mode="slow", delay=0.2)
    started = time.monotonic()
    assert venue.ticker() == healthy
    assert time.monotonic() - started >= 0.2


def test_it_fills_in_each_mode_s_default() -> None:
    venue = Venue("binance")
    defaults = {"slow": ("delay", 5), "garbage": ("kind", "truncated"), "stale": ("age", 120)}
    for mode, (name, value) in defaults.items():
        assert venue.put("BTCUSDT", mode=mode)[1][name] == value
    assert venue.put("BTCUSDT", mode="outlier")[1]["factor"] == "1.05"


def test_it_serves_an_html_page_with_200_for_garbage_html(venue: Venue) -> None:
    venue.put("BTCUSDT", mode="garbage", kind="html")
    status, content_type, payload = venue.ticker()
    assert (status, content_type) == (200, "text/html")
    with pytest.raises(json.JSONDecodeError):
        json.loads(payload)


def test_it_cuts_the_json_in_half_for_garbage_truncated(venue: Venue) -> None:
    healthy = venue.ticker()[2]
    venue.put("BTCUSDT", mode="garbage", kind="truncated")
    status, _, payload = venue.ticker()
    assert (status, payload) == (200, healthy[: len(healthy) // 2])
    with pytest.raises(json.JSONDecodeError):
        json.loads(payload)


def test_it_sends_nan_prices_for_garbage_nan(venue: Venue) -> None:
    venue.put("BTCUSDT", mode="garbage", kind="nan")
    assert venue.prices() == ("NaN", "NaN", "NaN")


def test_it_sends_prices_of_the_wrong_types_for_garbage_types(venue: Venue) -> None:
    last = venue.prices()[0]
    venue.put("BTCUSDT", mode="garbage", kind="types")
    assert venue.prices() == (float(last), None, ["x"])
    assert type(venue.prices()[0]) is float


def test_it_freezes_a_stale_venue_at_the_moment_age_before_the_fault(venue: Venue) -> None:
    venue.put("BTCUSDT", mode="stale", age=120)
    first = venue.ticker()
    venue.now += timedelta(milliseconds=5)
    assert venue.ticker() == first
    frozen = market.venue_ticker(venue.name, "BTCUSDT", AT - timedelta(seconds=120))
    assert Decimal(venue.prices()[0]) == frozen.last


def test_it_dates_a_stale_ticker_at_the_frozen_moment() -> None:
    binance, coinbase = Venue("binance"), Venue("coinbase")
    for venue in (binance, coinbase):
        venue.put("BTCUSDT", mode="stale", age=120)
        venue.now += timedelta(seconds=30)
    assert binance.body()["closeTime"] == AT_MS - 120_000
    assert coinbase.body()["time"] == "2026-11-25T03:52:28.123456Z"


@pytest.mark.parametrize("factor", ["1.05", 0.9])
def test_it_scales_prices_by_an_outlier_factor_on_the_usual_ticks(
    venue: Venue, factor: str | float
) -> None:
    healthy = venue.prices()
    venue.put("BTCUSDT", mode="outlier", factor=factor)
    scaled = venue.prices()
    last, bid, ask = (Decimal(p) for p in scaled)
    assert abs(last / Decimal(healthy[0]) / Decimal(str(factor)) - 1) < Decimal("1e-6")
    assert bid < ask
    assert [decimals(p) for p in scaled] == [decimals(p) for p in healthy]


def test_it_scales_the_day_range_of_an_outlier_too() -> None:
    venue = Venue("binance")
    healthy = venue.body()
    venue.put("BTCUSDT", mode="outlier", factor="2")
    scaled = venue.body()
    for field in ("openPrice", "highPrice", "lowPrice"):
        assert Decimal(scaled[field]) == 2 * Decimal(healthy[field])


def test_it_distorts_only_the_faulty_symbol_in_a_list_of_tickers() -> None:
    venue = Venue("binance")

    def lasts() -> dict[str, str]:
        payload = venue.call("GET", "/api/v3/ticker/24hr")[2]
        return {t["symbol"]: t["lastPrice"] for t in json.loads(payload)}

    healthy = lasts()
    venue.put("ETHUSDT", mode="outlier", factor="2")
    scaled = lasts()
    assert Decimal(scaled.pop("ETHUSDT")) == 2 * Decimal(healthy.pop("ETHUSDT"))
    assert scaled == healthy


def test_it_lets_a_symbol_s_own_fault_win_over_the_star_fault() -> None:
    venue = Venue("coinbase")
    venue.put("*", mode="down")
    venue.put("BTCUSDT", mode="garbage", kind="nan")
    assert venue.call("GET", "/products/ETH-USDT/ticker")[0] == 503
    assert venue.prices() == ("NaN", "NaN", "NaN")


def test_it_applies_the_star_fault_even_to_an_unknown_symbol() -> None:
    venue = Venue("coinbase")
    venue.put("*", mode="down")
    assert venue.call("GET", "/products/NOPE-USDT/ticker")[0] == 503


def test_it_never_faults_the_sim_routes(venue: Venue) -> None:
    venue.put("*", mode="garbage", kind="html")
    assert venue.call("GET", "/sim/truth/BTCUSDT")[:2] == (200, "application/json")
    assert set(venue.faults()) == {"*"}


def test_it_lists_and_clears_one_fault_or_all_of_them() -> None:
    venue = Venue("kraken")
    venue.put("BTCUSDT", mode="slow", delay=0.2)
    venue.put("*", mode="down")
    assert venue.faults() == {
        "BTCUSDT": {"mode": "slow", "delay": 0.2, "since": AT.isoformat()},
        "*": {"mode": "down", "since": AT.isoformat()},
    }
    assert set(venue.faults("DELETE", "BTCUSDT")) == {"*"}
    assert venue.ticker()[0] == 503
    assert venue.faults("DELETE") == {}
    assert venue.ticker()[0] == 200


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'["down"]',
        b'{"mode": "explode"}',
        b'{"mode": ["down"]}',
        b'{"mode": "down", "delay": 1}',
        b'{"mode": "slow", "delay": 61}',
        b'{"mode": "slow", "delay": "5"}',
        b'{"mode": "slow", "delay": true}',
        b'{"mode": "slow", "delay": NaN}',
        b'{"mode": "garbage", "kind": "xml"}',
        b'{"mode": "stale", "age": -1}',
        b'{"mode": "outlier", "factor": "0"}',
        b'{"mode": "outlier", "factor": "abc"}',
        b'{"mode": "outlier", "factor": "Infinity"}',
        b'{"mode": "outlier", "factor": null}',
    ],
)
def test_it_refuses_a_bad_fault_with_400_and_a_reason(body: bytes) -> None:
    venue = Venue("binance")
    status, _, payload = venue.call("PUT", "/sim/faults/BTCUSDT", body=body)
    assert status == 400
    assert json.loads(payload)["error"]
    assert venue.faults() == {}


def test_it_names_the_modes_when_the_mode_is_unknown() -> None:
    status, body = Venue("binance").put("BTCUSDT", mode="explode")
    assert (status, body) == (
        400,
        {"error": "mode must be one of: down, slow, garbage, stale, outlier, drip, empty, halted"},
    )


def test_it_refuses_an_unknown_symbol_and_other_methods() -> None:
    venue = Venue("kraken")
    assert venue.put("NOPEUSDT", mode="down") == (404, {"error": "unknown symbol"})
    assert venue.call("POST", "/sim/faults")[0] == 405
    assert venue.call("GET", "/sim/faults/BTCUSDT")[0] == 405


def test_it_gives_the_true_price_at_a_moment_in_epoch_milliseconds() -> None:
    status, _, payload = Venue("coinbase").call("GET", "/sim/truth/BTCUSDT", f"at={AT_MS - 60_000}")
    earlier = AT.replace(microsecond=123_000) - timedelta(minutes=1)
    assert (status, json.loads(payload)) == (
        200,
        {
            "symbol": "BTCUSDT",
            "price": str(market.true_price("BTCUSDT", earlier)),
            "time": "2026-11-25T03:53:28.123000Z",
        },
    )


@pytest.mark.parametrize("at", ["yesterday", "1.5", "9" * 30])
def test_it_refuses_a_bad_truth_moment_with_400(at: str) -> None:
    status, _, payload = Venue("coinbase").call("GET", "/sim/truth/BTCUSDT", f"at={at}")
    assert (status, json.loads(payload)) == (
        400,
        {"error": "at must be a time in epoch milliseconds"},
    )


def test_it_takes_faults_over_real_http_from_the_control_client() -> None:
    with serving(venue_command("kraken"), {**os.environ, "SIM_FAULTS": "true"}) as kraken:
        url = kraken.url
        ticker = f"{url}/0/public/Ticker?pair="
        set_fault(url, "BTCUSDT", "down")
        down = requests.get(ticker + "XBTUSDT", timeout=2)
        set_fault(url, "*", "slow", delay=0.5)
        with pytest.raises(requests.ReadTimeout):
            requests.get(ticker + "ETHUSDT", timeout=0.1)
        set_fault(url, "SOLUSDT", "outlier", factor=Decimal("1.25"))
        listed = requests.get(f"{url}/sim/faults", timeout=2).json()["faults"]
        with pytest.raises(requests.HTTPError):
            set_fault(url, "BTCUSDT", "explode")
        clear_faults(url)
        healthy = requests.get(ticker + "XBTUSDT", timeout=2)
        at = datetime.now(UTC) - timedelta(minutes=1)
        truth = true_price(url, "BTCUSDT", at=at)
    assert (down.status_code, down.headers["Content-Type"]) == (503, "text/html")
    assert listed["SOLUSDT"]["factor"] == "1.25"
    assert (healthy.status_code, healthy.json()["error"]) == (200, [])
    whole_ms = at.replace(microsecond=at.microsecond // 1000 * 1000)
    assert truth == market.true_price("BTCUSDT", whole_ms)


def test_an_empty_side_of_the_book_is_quoted_as_zero_as_binance_does(venue: Venue) -> None:
    assert venue.put("BTCUSDT", mode="empty", side="ask")[1]["side"] == "ask"
    status, _, payload = venue.ticker()
    quote = get_adapter(venue.name).parse(
        status, payload, exchange=venue.name, symbol="BTCUSDT", received_at=datetime.now(UTC)
    )
    assert (quote.ask, quote.bid > 0) == (None, True)
    assert venue.put("BTCUSDT", mode="empty", side="middle") == (
        400,
        {"error": "side must be bid or ask"},
    )

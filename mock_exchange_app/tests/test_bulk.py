"""The venues' bulk ticker forms, and how faults act on a reply that quotes several symbols."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from mock_exchange_app import control
from mock_exchange_app.tests.test_faults import DOWN_PAGE, Venue
from mock_exchange_app.tests.test_venues import BINANCE_24HR_FIELDS

SYMBOLS = '["BTCUSDT","ETHUSDT","SOLUSDT"]'
BULK = {  # BTCUSDT, ETHUSDT and SOLUSDT in one request
    "binance": ("/api/v3/ticker/24hr", f"symbols={SYMBOLS}"),
    "kraken": ("/0/public/Ticker", "pair=XBTUSDT,ETHUSDT,SOLUSDT"),
}
KRAKEN_NAMES = {"BTCUSDT": "XBTUSDT", "ETHUSDT": "ETHUSDT", "SOLUSDT": "SOLUSDT"}


def bulk(venue: Venue) -> tuple[int, Any]:
    status, _, payload = venue.call("GET", *BULK[venue.name])
    return status, json.loads(payload)


def lasts(venue: Venue) -> dict[str, Any]:
    """Return each quoted symbol's last price field, by PriceHub symbol."""
    status, body = bulk(venue)
    assert status == 200
    if venue.name == "binance":
        return {t.get("symbol"): t.get("lastPrice") for t in body if isinstance(t, dict)}
    by_name = {name: symbol for symbol, name in KRAKEN_NAMES.items()}
    result = body["result"]
    return {by_name[n]: t["c"][0] if isinstance(t, dict) else t for n, t in result.items()}


@pytest.fixture(params=["binance", "kraken"])
def venue(request: pytest.FixtureRequest) -> Venue:
    return Venue(request.param)


@pytest.fixture
def clean(venues: dict[str, str]) -> Iterator[dict[str, str]]:
    """The venues served over HTTP, with every fault cleared after the test."""
    yield venues
    for url in venues.values():
        control.clear_faults(url)


def test_it_serves_binance_tickers_for_a_json_array_of_symbols_in_its_order() -> None:
    query = 'symbols=["SOLUSDT","BTCUSDT"]'
    status, _, payload = Venue("binance").call("GET", "/api/v3/ticker/24hr", query)
    tickers = json.loads(payload)
    assert status == 200
    assert [t["symbol"] for t in tickers] == ["SOLUSDT", "BTCUSDT"]
    assert all(set(t) == BINANCE_24HR_FIELDS for t in tickers)


def test_it_serves_binance_book_tickers_for_a_json_array_of_symbols_too() -> None:
    status, _, payload = Venue("binance").call(
        "GET", "/api/v3/ticker/bookTicker", "symbols=%5B%22ETHUSDT%22,%22BTCUSDT%22%5D"
    )
    assert (status, [t["symbol"] for t in json.loads(payload)]) == (200, ["ETHUSDT", "BTCUSDT"])


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ('symbols=["BTCUSDT","NOPEUSDT"]', -1121, "Invalid symbol."),
        (
            'symbols=["BTCUSDT", "ETHUSDT"]',
            -1100,
            "Illegal characters found in parameter 'symbols'; legal range is "
            """'^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'.""",
        ),
        ("symbols=BTCUSDT,ETHUSDT", -1100, None),
        (
            'symbol=BTCUSDT&symbols=["ETHUSDT"]',
            -1128,
            "Combination of optional parameters invalid.",
        ),
    ],
)
def test_it_fails_a_whole_binance_bulk_request_as_binance_does(
    query: str, code: int, message: str | None
) -> None:
    status, _, payload = Venue("binance").call("GET", "/api/v3/ticker/24hr", query)
    body = json.loads(payload)
    assert (status, body["code"]) == (400, code)
    assert message is None or body["msg"] == message


def test_it_answers_each_symbol_once_however_often_it_is_asked_for(venue: Venue) -> None:
    query = 'symbols=["BTCUSDT","BTCUSDT"]' if venue.name == "binance" else "pair=XBTUSDT,XBTUSDT"
    path = BULK[venue.name][0]
    body = json.loads(venue.call("GET", path, query)[2])
    assert len(body if venue.name == "binance" else body["result"]) == 1


def test_it_leaves_out_the_ticker_of_a_symbol_down_on_its_own(venue: Venue) -> None:
    venue.put("ETHUSDT", mode="down")
    assert set(lasts(venue)) == {"BTCUSDT", "SOLUSDT"}


def test_it_still_answers_a_single_request_for_that_symbol_with_the_503_page(venue: Venue) -> None:
    venue.put("BTCUSDT", mode="down")
    assert venue.ticker() == (503, "text/html", DOWN_PAGE)


def test_it_spoils_only_the_ticker_of_a_symbol_with_its_own_garbage(venue: Venue) -> None:
    healthy = lasts(venue)
    venue.put("ETHUSDT", mode="garbage", kind="nan")
    spoiled = lasts(venue)
    assert spoiled.pop("ETHUSDT") == "NaN"
    healthy.pop("ETHUSDT")
    assert spoiled == healthy


@pytest.mark.parametrize("kind", ["html", "truncated"])
def test_it_puts_a_string_in_place_of_a_ticker_with_its_own_html_or_truncated_garbage(
    kind: str,
) -> None:
    venue = Venue("kraken")
    venue.put("ETHUSDT", mode="garbage", kind=kind)
    result = bulk(venue)[1]["result"]
    assert isinstance(result["ETHUSDT"], str)
    assert isinstance(result["XBTUSDT"], dict)


def test_it_fails_the_whole_reply_for_a_star_fault(venue: Venue) -> None:
    venue.put("*", mode="down")
    assert venue.call("GET", *BULK[venue.name])[0] == 503


def test_it_spares_a_reply_whose_every_symbol_has_its_own_fault_from_the_star_fault() -> None:
    venue = Venue("binance")
    venue.put("*", mode="down")
    for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
        venue.put(symbol, mode="outlier", factor="2")
    assert bulk(venue)[0] == 200


def test_it_holds_up_the_whole_reply_for_one_slow_symbol(venue: Venue) -> None:
    venue.put("SOLUSDT", mode="slow", delay=0.2)
    started = time.monotonic()
    assert len(lasts(venue)) == 3
    assert time.monotonic() - started >= 0.2


def test_it_scales_only_the_outlier_symbol_in_a_bulk_reply(venue: Venue) -> None:
    healthy = lasts(venue)
    venue.put("BTCUSDT", mode="outlier", factor="2")
    scaled = lasts(venue)
    assert Decimal(scaled.pop("BTCUSDT")) == 2 * Decimal(healthy.pop("BTCUSDT"))
    assert scaled == healthy


def test_it_serves_both_bulk_forms_over_http_with_one_symbol_faulty_alone(
    clean: dict[str, str],
) -> None:
    for url in clean.values():
        control.set_fault(url, "ETHUSDT", "garbage", kind="nan")
    binance = requests.get(
        f"{clean['binance']}/api/v3/ticker/24hr", params={"symbols": SYMBOLS}, timeout=5
    ).json()
    kraken = requests.get(
        f"{clean['kraken']}/0/public/Ticker?pair=XBTUSDT,ETHUSDT,SOLUSDT", timeout=5
    ).json()
    assert [(t["symbol"], t["lastPrice"] == "NaN") for t in binance] == [
        ("BTCUSDT", False),
        ("ETHUSDT", True),
        ("SOLUSDT", False),
    ]
    assert {name: t["c"][0] == "NaN" for name, t in kraken["result"].items()} == {
        "XBTUSDT": False,
        "ETHUSDT": True,
        "SOLUSDT": False,
    }

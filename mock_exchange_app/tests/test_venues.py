from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from mock_exchange_app import currencies, market
from mock_exchange_app.venues import create_app

AT = datetime(2026, 11, 25, 3, 54, 28, 123456, tzinfo=UTC)
AT_MS = 1795578868123
DECIMAL_8 = re.compile(r"^-?\d+\.\d{8}$")
PLAIN_DECIMAL = re.compile(r"^-?\d+\.\d+$")

BINANCE_24HR_FIELDS = {
    "symbol", "priceChange", "priceChangePercent", "weightedAvgPrice", "prevClosePrice",
    "lastPrice", "lastQty", "bidPrice", "bidQty", "askPrice", "askQty", "openPrice",
    "highPrice", "lowPrice", "volume", "quoteVolume", "openTime", "closeTime", "firstId",
    "lastId", "count",
}  # fmt: skip


def get(venue: str, path: str, query: str = "") -> tuple[int, dict[str, str], Any]:
    """Call a venue app directly as WSGI and decode its JSON reply."""
    environ: dict[str, Any] = {"PATH_INFO": path, "QUERY_STRING": query}
    setup_testing_defaults(environ)
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(create_app(venue, clock=lambda: AT)(environ, start_response))
    assert seen["headers"]["Content-Type"] == "application/json"
    return int(seen["status"].split()[0]), seen["headers"], json.loads(body)


def test_it_serves_a_binance_24hr_ticker_with_exactly_binance_fields() -> None:
    status, _, body = get("binance", "/api/v3/ticker/24hr", "symbol=BTCUSDT")
    assert status == 200
    assert set(body) == BINANCE_24HR_FIELDS
    ints = {"openTime", "closeTime", "firstId", "lastId", "count"}
    assert all(type(body[k]) is int for k in ints)
    decimals = BINANCE_24HR_FIELDS - ints - {"symbol", "priceChangePercent"}
    assert all(DECIMAL_8.match(body[k]) for k in decimals)
    assert body["closeTime"] == AT_MS
    assert body["closeTime"] - body["openTime"] == 86_400_000
    assert body["lastId"] - body["firstId"] + 1 == body["count"]
    assert Decimal(body["bidPrice"]) < Decimal(body["askPrice"])


def test_it_lists_every_symbol_when_binance_is_asked_for_none() -> None:
    status, _, body = get("binance", "/api/v3/ticker/24hr")
    assert status == 200
    assert [t["symbol"] for t in body] == list(currencies.listed("binance"))


def test_it_serves_a_binance_book_ticker() -> None:
    status, _, body = get("binance", "/api/v3/ticker/bookTicker", "symbol=ETHUSDT")
    assert status == 200
    assert set(body) == {"symbol", "bidPrice", "bidQty", "askPrice", "askQty"}
    assert all(DECIMAL_8.match(v) for k, v in body.items() if k != "symbol")


@pytest.mark.parametrize("path", ["/api/v3/ticker/24hr", "/api/v3/ticker/bookTicker"])
def test_it_answers_a_binance_unknown_symbol_with_code_1121(path: str) -> None:
    status, _, body = get("binance", path, "symbol=NOPEUSDT")
    assert (status, body) == (400, {"code": -1121, "msg": "Invalid symbol."})


def test_it_serves_a_coinbase_ticker_with_a_microsecond_utc_time() -> None:
    status, _, body = get("coinbase", "/products/BTC-USDT/ticker")
    assert status == 200
    assert set(body) == {"ask", "bid", "volume", "trade_id", "price", "size", "time"}
    assert type(body["trade_id"]) is int
    assert body["time"] == "2026-11-25T03:54:28.123456Z"
    assert all(PLAIN_DECIMAL.match(body[k]) for k in ("ask", "bid", "volume", "price", "size"))


def test_it_answers_a_coinbase_unknown_product_with_404_not_found() -> None:
    status, _, body = get("coinbase", "/products/NOPE-USDT/ticker")
    assert (status, body) == (404, {"message": "NotFound"})


def test_it_serves_kraken_tickers_under_the_requested_pair_names() -> None:
    status, _, body = get("kraken", "/0/public/Ticker", "pair=XBTUSDT,XDGUSDT")
    assert status == 200
    assert body["error"] == []
    assert set(body["result"]) == {"XBTUSDT", "XDGUSDT"}
    btc = body["result"]["XBTUSDT"]
    assert set(btc) == {"a", "b", "c", "v", "p", "t", "l", "h", "o"}
    assert [len(btc[k]) for k in "abcvptlh"] == [3, 3, 2, 2, 2, 2, 2, 2]
    assert all(type(n) is int for n in btc["t"])
    assert btc["a"][1].isdigit()
    assert Decimal(btc["b"][0]) < Decimal(btc["a"][0])
    assert Decimal(btc["l"][1]) <= Decimal(btc["c"][0]) <= Decimal(btc["h"][1])


@pytest.mark.parametrize("query", ["pair=NOPEUSDT", "pair=XBTUSDT,NOPEUSDT"])
def test_it_answers_a_kraken_unknown_pair_with_200_and_an_error_list(query: str) -> None:
    status, _, body = get("kraken", "/0/public/Ticker", query)
    assert (status, body) == (200, {"error": ["EQuery:Unknown asset pair"]})


@pytest.mark.parametrize("venue", market.VENUES)
def test_it_serves_the_true_price_on_every_venue(venue: str) -> None:
    status, _, body = get(venue, "/sim/truth/BTCUSDT")
    assert status == 200
    assert body == {
        "symbol": "BTCUSDT",
        "price": str(market.true_price("BTCUSDT", AT)),
        "time": "2026-11-25T03:54:28.123456Z",
    }
    status, _, body = get(venue, "/sim/truth/NOPEUSDT")
    assert (status, body) == (404, {"error": "unknown symbol"})


@pytest.mark.parametrize("venue", market.VENUES)
def test_it_answers_unknown_paths_with_a_json_404(venue: str) -> None:
    status, _, body = get(venue, "/api/v9/nothing")
    assert (status, body) == (404, {"error": "not found"})


def test_it_quotes_within_a_few_bps_of_the_truth_in_every_format() -> None:
    truth = Decimal(get("kraken", "/sim/truth/ETHUSDT")[2]["price"])
    prices = [
        get("binance", "/api/v3/ticker/24hr", "symbol=ETHUSDT")[2]["lastPrice"],
        get("coinbase", "/products/ETH-USDT/ticker")[2]["price"],
        get("kraken", "/0/public/Ticker", "pair=ETHUSDT")[2]["result"]["ETHUSDT"]["c"][0],
    ]
    assert all(abs(Decimal(p) / truth - 1) < Decimal("0.001") for p in prices)


def test_it_refuses_to_build_an_unknown_venue() -> None:
    with pytest.raises(ValueError, match="mtgox"):
        create_app("mtgox")

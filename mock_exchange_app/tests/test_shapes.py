"""The simulated venues answer in the shapes the real venues do: each answer, asked for over
HTTP, has the keys, JSON types and kinds of string (decimal or other) of the recorded real answer
to the same request (exchanges/tests/recorded, sources in its SOURCES.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from exchanges.tests.recordings import load
from mock_exchange_app import control, currencies

DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# Keys of the real catalogue entries that PriceHub reads: the simulator must have each, alike.
READ = {
    "binance": {"symbol", "status", "baseAsset", "quoteAsset"},
    "coinbase": {
        "id",
        "base_currency",
        "quote_currency",
        "status",
        "trading_disabled",
        "cancel_only",
    },
    "kraken": {"base", "quote", "status"},
}
# Keys of the real answers that the simulator leaves out, none of them read by PriceHub. Any
# other key missing, or one the real answer lacks, fails the test.
NOT_SIMULATED = {
    "binance/exchange_info.json": {"sors"},
    "binance/exchange_info.json symbols": {
        "baseCommissionPrecision",
        "quoteCommissionPrecision",
        "otoAllowed",
        "opoAllowed",
        "quoteOrderQtyMarketAllowed",
        "allowTrailingStop",
        "cancelReplaceAllowed",
        "amendAllowed",
        "pegInstructionsAllowed",
        "defaultSelfTradePreventionMode",
        "allowedSelfTradePreventionModes",
    },
    "coinbase/ticker_BTC-USDT.json": {"rfq_volume"},
    "kraken/asset_pairs.json result": {
        "leverage_buy",
        "leverage_sell",
        "fees",
        "fees_maker",
        "margin_call",
        "margin_stop",
        "long_position_limit",
        "short_position_limit",
    },
}


def shape(value: Any) -> Any:
    """Return the value's JSON shape: objects by key, arrays by their first element, numbers as
    "number", strings as "decimal" or "string"."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, int | float):
        return "number"
    return "decimal" if DECIMAL.fullmatch(value) else "string"


def differences(real: Any, simulated: Any, where: str = "") -> list[str]:
    """Return where the simulated shape departs from the real one; an empty real array or object
    (a documented example's placeholder) takes any array or object."""
    if real in ([], {}) and type(simulated) is type(real):
        return []
    if isinstance(real, dict) and isinstance(simulated, dict):
        missing = set(real) - set(simulated) - NOT_SIMULATED.get(where.strip(), set())
        found = [f"{where}: missing {key}" for key in sorted(missing)]
        found += [f"{where}: no such key {key}" for key in sorted(set(simulated) - set(real))]
        for key in sorted(set(real) & set(simulated)):
            found += differences(real[key], simulated[key], f"{where} {key}".strip())
        return found
    if isinstance(real, list) and isinstance(simulated, list):
        if not real or not simulated:
            return []
        return differences(real[0], simulated[0], where)
    return [] if real == simulated else [f"{where}: {simulated!r} where real is {real!r}"]


def compare(name: str, simulated: Any, real: Any = None) -> None:
    real = load(name) if real is None else real
    assert differences(shape(real), shape(simulated), name) == []


@pytest.fixture(autouse=True)
def fresh_limits(venues: dict[str, str]) -> Iterator[None]:
    yield
    for url in venues.values():
        control.reset_limits(url)


def get(venues: dict[str, str], kind: str, path: str, **params: str) -> requests.Response:
    return requests.get(venues[kind] + path, params=params, timeout=10)


def test_binance_s_tickers_single_and_bulk(venues):
    single = get(venues, "binance", "/api/v3/ticker/24hr", symbol="BTCUSDT")
    compare("binance/ticker_24hr_BTCUSDT.json", single.json())
    compare("binance/ticker_24hr_BNBBTC.json", single.json())
    bulk = get(venues, "binance", "/api/v3/ticker/24hr", symbols='["BTCUSDT","ETHUSDT"]')
    assert [t["symbol"] for t in bulk.json()] == ["BTCUSDT", "ETHUSDT"]
    compare("binance/ticker_24hr_symbols.json", bulk.json())


def test_coinbase_s_ticker(venues):
    compare(
        "coinbase/ticker_BTC-USDT.json", get(venues, "coinbase", "/products/BTC-USDT/ticker").json()
    )


def test_kraken_s_tickers_single_and_bulk(venues):
    single = get(venues, "kraken", "/0/public/Ticker", pair="XBTUSDT").json()
    compare("kraken/ticker_XBTUSDT.json", single)
    bulk = get(venues, "kraken", "/0/public/Ticker", pair="XBTUSDT,XBTUSD").json()
    assert set(bulk["result"]) == {"XBTUSDT", "XXBTZUSD"}
    compare(
        "kraken/ticker_XBTUSDT.json",
        {"error": [], "result": {"XBTUSDT": bulk["result"]["XBTUSDT"]}},
    )
    compare(
        "kraken/ticker_XXBTZUSD.json",
        {"error": [], "result": {"XXBTZUSD": bulk["result"]["XXBTZUSD"]}},
    )


@pytest.mark.parametrize(
    ("kind", "path", "name"),
    [
        ("binance", "/api/v3/exchangeInfo", "binance/exchange_info.json"),
        ("coinbase", "/products", "coinbase/products.json"),
        ("kraken", "/0/public/AssetPairs", "kraken/asset_pairs.json"),
    ],
)
def test_each_catalogue_entry_has_the_real_entry_s_shape(venues, kind, path, name):
    simulated, real = get(venues, kind, path).json(), load(name)
    if kind == "binance":
        entries, real_entry = simulated["symbols"], real["symbols"][0]
        compare(
            name,
            {k: v for k, v in simulated.items() if k != "symbols"},
            {k: v for k, v in real.items() if k != "symbols"},
        )
        where = f"{name} symbols"
    elif kind == "coinbase":
        entries, real_entry, where = simulated, real[0], name
    else:
        entries, real_entry = list(simulated["result"].values()), real["result"]["XXBTZUSD"]
        where = f"{name} result"
    assert READ[kind] <= set(real_entry)
    for entry in entries[:5]:
        assert differences(shape(real_entry), shape(entry), where) == []


def test_binance_s_error_and_rate_limit_bodies(venues):
    unknown = get(venues, "binance", "/api/v3/ticker/24hr", symbol="NOSUCHPAIR")
    assert unknown.status_code == 400
    assert unknown.json() == load("binance/error_invalid_symbol.json")
    control.set_limit(venues["binance"], 1)
    refused = get(venues, "binance", "/api/v3/ticker/24hr", symbol="BTCUSDT")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"].isdigit()
    compare("binance/429_too_many_requests.json", refused.json())


def test_okx_s_ticker_single_and_bulk_and_its_errors(venues):
    single = get(venues, "okx", "/api/v5/market/ticker", instId="BTC-USDT").json()
    compare("okx/ticker_BTC-USDT.json", single)
    every = get(venues, "okx", "/api/v5/market/tickers", instType="SPOT").json()
    assert "ETH-USDC" in {t["instId"] for t in every["data"]}
    compare("okx/ticker_BTC-USDT.json", every)
    unknown = get(venues, "okx", "/api/v5/market/ticker", instId="NOPE-USDT")
    assert (unknown.status_code, unknown.json()) == (200, load("okx/error_51001.json"))
    control.set_limit(venues["okx"], 1)
    get(venues, "okx", "/api/v5/market/ticker", instId="BTC-USDT")
    refused = get(venues, "okx", "/api/v5/market/ticker", instId="BTC-USDT")
    assert (refused.status_code, refused.json()) == (429, load("okx/429_50011.json"))


def test_bybit_s_tickers_single_and_bulk_and_its_errors(venues):
    single = get(venues, "bybit", "/v5/market/tickers", category="spot", symbol="BTCUSDT").json()
    compare("bybit/tickers_spot_BTCUSDT.json", single)
    every = get(venues, "bybit", "/v5/market/tickers", category="spot").json()
    assert "USDCUSDT" in {t["symbol"] for t in every["result"]["list"]}
    compare("bybit/tickers_spot_BTCUSDT.json", every)
    unknown = get(venues, "bybit", "/v5/market/tickers", category="spot", symbol="NOPE").json()
    compare("bybit/error_10001.json", unknown)
    assert unknown["retMsg"] == "Not supported symbols"
    control.set_limit(venues["bybit"], 1)
    get(venues, "bybit", "/v5/market/tickers", category="spot", symbol="BTCUSDT")
    refused = get(venues, "bybit", "/v5/market/tickers", category="spot", symbol="BTCUSDT")
    assert (refused.status_code, refused.text) == (403, "access too frequent")


def test_bitstamp_s_ticker_single_and_bulk_and_its_errors(venues):
    single = get(venues, "bitstamp", "/api/v2/ticker/btcusdt/").json()
    compare("bitstamp/ticker_btcusdt.json", single)
    every = get(venues, "bitstamp", "/api/v2/ticker/").json()
    assert {"BTC/USD", "EUR/USD", "USDC/USD"} <= {t["pair"] for t in every}
    compare("bitstamp/ticker_all.json", every)
    assert get(venues, "bitstamp", "/api/v2/ticker/nopeusd/").status_code == 404
    control.set_limit(venues["bitstamp"], 1)
    get(venues, "bitstamp", "/api/v2/ticker/btcusd/")
    refused = get(venues, "bitstamp", "/api/v2/ticker/btcusd/")
    assert refused.status_code == 400
    assert refused.json() == load("bitstamp/error_400_002.json")


@pytest.mark.parametrize(
    ("kind", "path", "params", "name", "entries"),
    [
        ("okx", "/api/v5/public/instruments", {"instType": "SPOT"}, "okx/instruments_SPOT.json",
         lambda answer: answer["data"]),
        ("bybit", "/v5/market/instruments-info", {"category": "spot", "limit": "1000"},
         "bybit/instruments_info_spot.json", lambda answer: answer["result"]["list"]),
        ("bitstamp", "/api/v2/markets/", {}, "bitstamp/markets.json", lambda answer: answer),
    ],
)  # fmt: skip
def test_the_newer_venues_catalogue_entries_have_the_real_entry_s_shape(
    venues, kind, path, params, name, entries
):
    simulated, real = get(venues, kind, path, **params).json(), load(name)
    assert len(entries(simulated)) == len(currencies.listed(kind))
    for entry in entries(simulated)[:5]:
        assert differences(shape(entries(real)[0]), shape(entry), name) == []

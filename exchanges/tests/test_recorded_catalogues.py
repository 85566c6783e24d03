"""Catalogues: each venue's recorded list of markets, as read by its adapter, and edited for the
cases the recordings do not hold (a halted market, a cancel-only product, a dark pool)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from exchanges.adapters import get_adapter
from exchanges.quotes import ExchangeError, Listing
from exchanges.tests.recordings import body, load

CATALOGUES = {
    "binance": "binance/exchange_info.json",
    "coinbase": "coinbase/products.json",
    "kraken": "kraken/asset_pairs.json",
}


def listings(kind: str, payload: Any = None) -> list[Listing]:
    raw = body(CATALOGUES[kind]) if payload is None else json.dumps(payload).encode()
    return get_adapter(kind).parse_catalogue(200, raw)


def test_it_reads_binance_s_documented_catalogue():
    assert listings("binance") == [Listing("ETHBTC", "ETH", "BTC", True, "TRADING")]


def test_it_reads_coinbase_s_recorded_products():
    products = listings("coinbase")
    assert [p.symbol for p in products] == [
        "BTC-USDT",
        "BTC-USD",
        "ETH-USDT",
        "ADA-USDT",
        "XRP-USDT",
        "DOGE-USDT",
    ]
    assert products[1] == Listing("BTC-USD", "BTC", "USD", True, "online")


def test_it_reads_kraken_s_recorded_pairs_in_common_codes():
    assert listings("kraken") == [
        Listing("XBTUSDT", "BTC", "USDT", True, "online"),
        Listing("XXBTZUSD", "BTC", "USD", True, "online"),
        Listing("ETHUSDT", "ETH", "USDT", True, "online"),
    ]


def test_a_binance_symbol_in_break_is_listed_but_not_trading():
    payload = load(CATALOGUES["binance"])
    payload["symbols"][0]["status"] = "BREAK"
    assert listings("binance", payload) == [Listing("ETHBTC", "ETH", "BTC", False, "BREAK")]


@pytest.mark.parametrize("flag", ["cancel_only", "trading_disabled"])
def test_a_coinbase_product_that_cannot_trade_is_listed_but_not_trading(flag):
    payload = load(CATALOGUES["coinbase"])
    payload[0][flag] = True
    assert listings("coinbase", payload)[0] == Listing("BTC-USDT", "BTC", "USDT", False, "online")


def test_kraken_s_dark_pools_and_unreadable_entries_are_left_out():
    payload = load(CATALOGUES["kraken"])
    result = payload["result"]
    result["XXBTZUSD.d"] = dict(result["XXBTZUSD"], altname="XBTUSD.d")
    result["ETHUSDT"]["status"] = 1
    result["XBTUSDT"]["status"] = "cancel_only"
    assert listings("kraken", payload) == [
        Listing("XBTUSDT", "BTC", "USDT", False, "cancel_only"),
        Listing("XXBTZUSD", "BTC", "USD", True, "online"),
    ]


@pytest.mark.parametrize(
    ("kind", "payload", "message"),
    [
        ("binance", {"symbols": {}}, "symbols is not a JSON array"),
        ("coinbase", {"products": []}, "top level is not a JSON array"),
        ("kraken", {"error": [], "result": []}, "result is not an object"),
    ],
)
def test_it_rejects_a_catalogue_that_is_not_a_list_of_markets(kind, payload, message):
    with pytest.raises(ExchangeError, match=message):
        listings(kind, payload)

"""OKX, Bybit and Bitstamp: the venues whose bulk ticker answers every market. Each adapter
reads the venue's recorded (or documented) answers, single, bulk and catalogue, and its errors
(sources in recorded/SOURCES.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from exchanges.adapters import get_adapter
from exchanges.quotes import ExchangeError, Listing, Pair, RateLimited, UnknownPair
from exchanges.tests.recordings import body, load

RECEIVED = datetime(2024, 3, 13, 11, 10, 45, tzinfo=UTC)
BTCUSDT = Pair("BTCUSDT", "BTC", "USDT")
ETHUSDT = Pair("ETHUSDT", "ETH", "USDT")


def encoded(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def parse(kind: str, raw: bytes, status: int = 200, symbol: str = "BTCUSDT"):
    return get_adapter(kind).parse(status, raw, exchange=kind, symbol=symbol, received_at=RECEIVED)


def test_it_reads_okx_s_recorded_ticker():
    quote = parse("okx", body("okx/ticker_BTC-USDT.json"))
    assert (quote.price, quote.bid, quote.ask) == (
        Decimal("73384.8"),
        Decimal("73384.7"),
        Decimal("73384.8"),
    )
    assert quote.volume == Decimal("21266.19145051")  # vol24h, in BTC
    assert quote.timestamp == datetime(2024, 3, 13, 11, 10, 43, 709000, tzinfo=UTC)


def test_it_reads_bybit_s_documented_ticker_which_has_no_time():
    quote = parse("bybit", body("bybit/tickers_spot_BTCUSDT.json"))
    assert (quote.price, quote.bid, quote.ask, quote.volume) == (
        Decimal("20533.13"),
        Decimal("20517.96"),
        Decimal("20527.77"),
        Decimal("11801.27771"),
    )
    assert quote.timestamp is None


def test_it_reads_bitstamp_s_recorded_ticker_in_whole_seconds():
    quote = parse("bitstamp", body("bitstamp/ticker_btcusdt.json"))
    assert (quote.price, quote.bid, quote.ask, quote.volume) == (
        Decimal("73285"),
        Decimal("73353"),
        Decimal("73367"),
        Decimal("135.29692054"),
    )
    assert quote.timestamp == datetime(2024, 3, 13, 11, 10, 41, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("okx", "http://v/api/v5/market/ticker?instId=BTC-USDT"),
        ("bybit", "http://v/v5/market/tickers?category=spot&symbol=BTCUSDT"),
        ("bitstamp", "http://v/api/v2/ticker/btcusdt/"),
    ],
)
def test_one_pair_is_asked_by_its_single_ticker(kind, url):
    assert get_adapter(kind).url("http://v", [BTCUSDT]) == url


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("okx", "http://v/api/v5/market/tickers?instType=SPOT"),
        ("bybit", "http://v/v5/market/tickers?category=spot"),
        ("bitstamp", "http://v/api/v2/ticker/"),
    ],
)
def test_several_pairs_are_asked_by_the_ticker_of_every_market(kind, url):
    assert get_adapter(kind).url("http://v", [BTCUSDT, ETHUSDT]) == url


def bulk(kind: str) -> bytes:
    """The bulk answer, made of the recorded single ticker (no recorded bulk answer of OKX or
    Bybit was found) and an entry of another market."""
    if kind == "okx":
        payload = load("okx/ticker_BTC-USDT.json")
        payload["data"].append(dict(payload["data"][0], instId="XRP-USDT"))
    else:
        payload = load("bybit/tickers_spot_BTCUSDT.json")
        payload["result"]["list"].append(dict(payload["result"]["list"][0], symbol="XRPUSDT"))
    return encoded(payload)


@pytest.mark.parametrize("kind", ["okx", "bybit"])
def test_it_picks_the_pairs_asked_from_every_ticker_and_misses_the_unlisted(kind):
    results = get_adapter(kind).parse_all(
        200, bulk(kind), exchange=kind, pairs=[BTCUSDT, ETHUSDT], received_at=RECEIVED
    )
    assert results["BTCUSDT"].price > 0
    assert isinstance(results["ETHUSDT"], ExchangeError)
    assert str(results["ETHUSDT"]) == "ticker missing from the answer"


def test_it_finds_bitstamp_s_bulk_entries_by_their_pair():
    btcusd = Pair("BTCUSD", "BTC", "USD")
    results = get_adapter("bitstamp").parse_all(
        200,
        body("bitstamp/ticker_all.json"),
        exchange="bitstamp",
        pairs=[btcusd, BTCUSDT],
        received_at=RECEIVED,
    )
    assert results["BTCUSD"].price == Decimal("26216")
    assert isinstance(results["BTCUSDT"], ExchangeError)


def test_an_unlisted_pair_is_the_venue_s_own_refusal():
    with pytest.raises(UnknownPair):
        parse("okx", body("okx/error_51001.json"))
    with pytest.raises(UnknownPair):
        parse("bybit", body("bybit/error_10001.json"))
    with pytest.raises(UnknownPair):
        parse("bitstamp", b"<html>Not Found</html>", status=404)


def test_bitstamp_s_rate_limit_error_is_a_refusal_for_its_limit():
    with pytest.raises(RateLimited):
        parse("bitstamp", body("bitstamp/error_400_002.json"), status=400)


@pytest.mark.parametrize("kind", ["okx", "bybit"])
def test_a_blank_book_side_is_an_empty_one(kind):
    if kind == "okx":
        payload = load("okx/ticker_BTC-USDT.json")
        payload["data"][0]["bidPx"] = ""
    else:
        payload = load("bybit/tickers_spot_BTCUSDT.json")
        payload["result"]["list"][0]["bid1Price"] = ""
    assert parse(kind, encoded(payload)).bid is None


def test_a_single_answer_of_two_tickers_is_refused():
    payload = load("okx/ticker_BTC-USDT.json")
    payload["data"] *= 2
    with pytest.raises(ExchangeError, match="exactly one ticker"):
        parse("okx", encoded(payload))


def catalogue(kind: str, payload: Any) -> list[Listing]:
    return get_adapter(kind).parse_catalogue(200, encoded(payload))


def test_it_reads_okx_s_recorded_instruments_and_a_suspended_one():
    payload = load("okx/instruments_SPOT.json")
    payload["data"][1]["state"] = "suspend"
    assert catalogue("okx", payload) == [
        Listing("BTC-USDT", "BTC", "USDT", True, "live"),
        Listing("ETH-USDT", "ETH", "USDT", False, "suspend"),
    ]


def test_it_reads_bybit_s_recorded_instruments():
    assert catalogue("bybit", load("bybit/instruments_info_spot.json")) == [
        Listing("BTCUSDT", "BTC", "USDT", True, "Trading"),
        Listing("ETHUSDT", "ETH", "USDT", True, "Trading"),
    ]


def test_it_reads_bitstamp_s_recorded_markets_and_a_disabled_one():
    payload = load("bitstamp/markets.json")
    payload[2]["trading"] = "Disabled"
    assert catalogue("bitstamp", payload) == [
        Listing("btcusd", "BTC", "USD", True, "Enabled"),
        Listing("btceur", "BTC", "EUR", True, "Enabled"),
        Listing("ltcusd", "LTC", "USD", False, "Disabled"),
        Listing("ethusd", "ETH", "USD", True, "Enabled"),
    ]

"""Adapters against recorded venue answers, good, erroneous and hostile."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from exchanges.adapters import ADAPTER_KINDS, get_adapter
from exchanges.quotes import ExchangeError, Quote
from exchanges.tests.recordings import body

# A couple of seconds after the recorded tickers were taken, on 2024-03-13 (recorded/SOURCES.md).
RECEIVED_AT = datetime(2024, 3, 13, 11, 10, 47, tzinfo=UTC)

# GET /api/v3/ticker/24hr?symbol=BTCUSDT
BINANCE_TICKER = body("binance/ticker_24hr_BTCUSDT.json")
# GET /products/BTC-USDT/ticker
COINBASE_TICKER = body("coinbase/ticker_BTC-USDT.json")
# GET /0/public/Ticker?pair=XBTUSDT
KRAKEN_TICKER = body("kraken/ticker_XBTUSDT.json")
# Binance's error payload, and a 429 it sent (code -1003).
BINANCE_INVALID_SYMBOL = body("binance/error_invalid_symbol.json")
BINANCE_TOO_MANY = body("binance/429_too_many_requests.json")
# Written, not recorded: no recorded body was found for these (recorded/SOURCES.md). They carry
# the messages the adapters match, in the shapes the venues use for their errors.
COINBASE_NOT_FOUND = b'{"message":"NotFound"}'
KRAKEN_UNKNOWN_PAIR = b'{"error":["EQuery:Unknown asset pair"]}'
HTML_PAGE = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body></body></html>"


def _with(body: bytes, key: str, value: bytes) -> bytes:
    """Return the recorded body with the value of key replaced by a raw JSON value."""
    pattern = rb'"%s":(\[[^\]]*\]|"[^"]*"|[^,}]*)' % key.encode()
    edited, count = re.subn(pattern, lambda _: b'"%s":%s' % (key.encode(), value), body)
    assert count == 1
    return edited


def _parse(kind: str, status: int, body: bytes) -> Quote:
    """Parse one answer the way the fetcher does."""
    return get_adapter(kind).parse(
        status, body, exchange=kind, symbol="BTCUSDT", received_at=RECEIVED_AT
    )


def _error(kind: str, status: int, body: bytes) -> str:
    """Return the message of the ExchangeError that parsing raises."""
    with pytest.raises(ExchangeError) as caught:
        _parse(kind, status, body)
    return str(caught.value)


def test_it_offers_the_six_venues_as_kinds():
    assert ADAPTER_KINDS == ("binance", "coinbase", "kraken", "okx", "bybit", "bitstamp")


@pytest.mark.parametrize("kind", ADAPTER_KINDS)
def test_it_gives_the_adapter_of_each_kind(kind):
    assert get_adapter(kind).kind == kind


def test_it_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown exchange kind 'gemini'"):
        get_adapter("gemini")


@pytest.mark.parametrize(
    ("kind", "base_url", "base", "quote", "url"),
    [
        (
            "binance",
            "https://api.binance.com",
            "btc",
            "usdt",
            "https://api.binance.com/api/v3/ticker/24hr?symbol=BTCUSDT",
        ),
        (
            "binance",
            "http://mock:8000/binance/",
            "BTC",
            "USDT",
            "http://mock:8000/binance/api/v3/ticker/24hr?symbol=BTCUSDT",
        ),
        (
            "coinbase",
            "https://api.exchange.coinbase.com/",
            "btc",
            "usdt",
            "https://api.exchange.coinbase.com/products/BTC-USDT/ticker",
        ),
        (
            "kraken",
            "https://api.kraken.com",
            "BTC",
            "USDT",
            "https://api.kraken.com/0/public/Ticker?pair=XBTUSDT",
        ),
        (
            "kraken",
            "https://api.kraken.com/",
            "doge",
            "usd",
            "https://api.kraken.com/0/public/Ticker?pair=XDGUSD",
        ),
        (
            "kraken",
            "https://api.kraken.com",
            "ETH",
            "BTC",
            "https://api.kraken.com/0/public/Ticker?pair=ETHXBT",
        ),
    ],
)
def test_it_builds_the_ticker_url(kind, base_url, base, quote, url):
    assert get_adapter(kind).ticker_url(base_url, base, quote) == url


def test_it_reads_a_binance_ticker():
    assert _parse("binance", 200, BINANCE_TICKER) == Quote(
        exchange="binance",
        symbol="BTCUSDT",
        price=Decimal("73369.84"),
        bid=Decimal("73369.83"),
        ask=Decimal("73369.84"),
        volume=Decimal("72140.348628"),
        timestamp=datetime(2024, 3, 13, 11, 10, 45, 391000, tzinfo=UTC),
        received_at=RECEIVED_AT,
    )


def test_it_reads_a_coinbase_ticker():
    assert _parse("coinbase", 200, COINBASE_TICKER) == Quote(
        exchange="coinbase",
        symbol="BTCUSDT",
        price=Decimal("73367.8"),
        bid=Decimal("73360.34"),
        ask=Decimal("73369.19"),
        volume=Decimal("1207.50668151"),
        timestamp=datetime(2024, 3, 13, 11, 10, 41, 270099, tzinfo=UTC),
        received_at=RECEIVED_AT,
    )


def test_it_reads_a_kraken_ticker_which_has_no_time():
    assert _parse("kraken", 200, KRAKEN_TICKER) == Quote(
        exchange="kraken",
        symbol="BTCUSDT",
        price=Decimal("73380.6"),
        bid=Decimal("73380.6"),
        ask=Decimal("73380.7"),
        volume=Decimal("598.03698452"),
        timestamp=None,
        received_at=RECEIVED_AT,
    )


def test_it_takes_kraken_s_single_pair_whatever_its_name():
    body = KRAKEN_TICKER.replace(b'"XBTUSDT":', b'"XXBTZUSDT":')
    assert _parse("kraken", 200, body).price == Decimal("73380.6")


def test_it_leaves_a_missing_bid_as_none():
    body = BINANCE_TICKER.replace(b'"bidPrice":', b'"bidPrize":')
    assert _parse("binance", 200, body).bid is None


@pytest.mark.parametrize("side", ["bidPrice", "askPrice"])
def test_a_zero_side_of_the_book_is_no_bid_or_ask_not_a_bad_quote(side):
    # Binance quotes an empty side of the book as zero.
    quote = _parse("binance", 200, _with(BINANCE_TICKER, side, b'"0.00000000"'))
    assert (quote.price, quote.bid is None, quote.ask is None) == (
        Decimal("73369.84000000"),
        side == "bidPrice",
        side == "askPrice",
    )


def test_it_converts_an_offset_time_to_utc():
    body = _with(COINBASE_TICKER, "time", b'"2024-03-13T12:10:41+01:00"')
    assert _parse("coinbase", 200, body).timestamp == datetime(2024, 3, 13, 11, 10, 41, tzinfo=UTC)


def test_it_keeps_a_stale_time_for_the_aggregator_to_judge():
    body = _with(COINBASE_TICKER, "time", b'"2024-03-12T11:10:41Z"')
    assert _parse("coinbase", 200, body).timestamp == datetime(2024, 3, 12, 11, 10, 41, tzinfo=UTC)


def test_it_tolerates_a_few_seconds_of_clock_skew():
    body = _with(BINANCE_TICKER, "closeTime", b"1710328251000")
    assert _parse("binance", 200, body).timestamp == datetime(2024, 3, 13, 11, 10, 51, tzinfo=UTC)


def test_it_shows_its_own_words_and_logs_the_venue_s_on_one_short_line(caplog):
    body = b'{"code":-1000,"msg":"Line one\\nline two%s"}' % (b"x" * 300)
    with caplog.at_level("DEBUG", logger="exchanges.adapters.base"):
        assert _error("binance", 400, body) == "binance answered an error (HTTP 400)"
    assert caplog.messages == [f"binance answered HTTP 400, error 'Line one line two{'x' * 183}'"]


@pytest.mark.parametrize(
    ("kind", "status", "body", "message"),
    [
        (
            "binance",
            400,
            BINANCE_INVALID_SYMBOL,
            "binance does not list this pair",
        ),
        (
            "binance",
            429,
            BINANCE_TOO_MANY,
            "binance answered an error (HTTP 429)",
        ),
        ("binance", 418, b"", "binance answered HTTP 418"),
        ("binance", 503, HTML_PAGE, "binance answered HTTP 503"),
        ("coinbase", 404, COINBASE_NOT_FOUND, "coinbase does not list this pair"),
        ("coinbase", 500, b'{"error":"internal"}', "coinbase answered HTTP 500"),
        (
            "kraken",
            200,
            KRAKEN_UNKNOWN_PAIR,
            "kraken does not list this pair",
        ),
        (
            "kraken",
            200,
            b'{"error":[{"code":1}],"result":{}}',
            "kraken answered an error (HTTP 200)",
        ),
        ("kraken", 520, HTML_PAGE, "kraken answered HTTP 520"),
    ],
)
def test_it_reports_the_venue_s_error_in_its_own_words(kind, status, body, message):
    assert _error(kind, status, body) == message


@pytest.mark.parametrize(
    ("kind", "body", "said"),
    [
        ("binance", BINANCE_INVALID_SYMBOL, "Invalid symbol. (code -1121)"),
        (
            "binance",
            BINANCE_TOO_MANY,
            "Too many requests; current request has limited. (code -1003)",
        ),
        ("coinbase", COINBASE_NOT_FOUND, "NotFound"),
        ("kraken", KRAKEN_UNKNOWN_PAIR, "EQuery:Unknown asset pair"),
        ("kraken", b'{"error":[{"code":1}],"result":{}}', "unreadable error"),
    ],
)
def test_it_reads_what_each_venue_said_for_the_log(kind, body, said):
    assert get_adapter(kind).error_message(json.loads(body)) == said


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        ("binance", HTML_PAGE, "not JSON"),
        ("binance", BINANCE_TICKER[:150], "not JSON"),
        ("binance", b"", "not JSON"),
        ("binance", b'{"lastPrice":"\xff"}', "not JSON"),
        ("binance", b"[" * 100_000, "not JSON"),
        ("binance", _with(BINANCE_TICKER, "lastPrice", b"NaN"), "not JSON"),
        ("binance", _with(BINANCE_TICKER, "volume", b"Infinity"), "not JSON"),
        ("binance", b'[{"lastPrice":"1"}]', "top level is not a JSON object"),
        (
            "binance",
            _with(BINANCE_TICKER, "lastPrice", b'"NaN"'),
            "field 'lastPrice' is not a decimal string",
        ),
        (
            "binance",
            _with(BINANCE_TICKER, "askPrice", b'"Infinity"'),
            "field 'askPrice' is not a decimal string",
        ),
        (
            "binance",
            _with(BINANCE_TICKER, "lastPrice", b"73369.84"),
            "field 'lastPrice' is not a decimal string",
        ),
        (
            "binance",
            _with(BINANCE_TICKER, "lastPrice", b"true"),
            "field 'lastPrice' is not a decimal string",
        ),
        (
            "binance",
            _with(BINANCE_TICKER, "lastPrice", b'"-73369.84"'),
            "field 'lastPrice' is not a positive number below 1E+15",
        ),
        (
            "binance",
            _with(BINANCE_TICKER, "lastPrice", b'"0.00000000"'),
            "field 'lastPrice' is not a positive number below 1E+15",
        ),
        (
            "binance",
            _with(BINANCE_TICKER, "lastPrice", b'"1000000000000000.00"'),
            "field 'lastPrice' is not a positive number below 1E+15",
        ),
        (
            "binance",
            _with(BINANCE_TICKER, "bidPrice", b'"-0.00000001"'),
            "field 'bidPrice' is not a positive number below 1E+15",
        ),
        (
            "binance",
            _with(BINANCE_TICKER, "volume", b'"-1.00000000"'),
            "field 'volume' is not a non-negative number below 1E+18",
        ),
        ("binance", _with(BINANCE_TICKER, "lastPrice", b"null"), "field 'lastPrice' missing"),
        (
            "binance",
            BINANCE_TICKER.replace(b'"volume":', b'"baseVolume":'),
            "field 'volume' missing",
        ),
        (
            "binance",
            _with(BINANCE_TICKER, "closeTime", b'"1710328245391"'),
            "field 'closeTime' is not an integer",
        ),
        (
            "binance",
            _with(BINANCE_TICKER, "closeTime", b"true"),
            "field 'closeTime' is not an integer",
        ),
        (
            "binance",
            _with(BINANCE_TICKER, "closeTime", b"1710328305123"),
            "field 'closeTime' is in the future",
        ),
        (
            "binance",
            _with(BINANCE_TICKER, "closeTime", b"100000000000000000000"),
            "field 'closeTime' is not a valid time",
        ),
        (
            "coinbase",
            _with(COINBASE_TICKER, "price", b'"1e999"'),
            "field 'price' is not a positive number below 1E+15",
        ),
        (
            "coinbase",
            _with(COINBASE_TICKER, "time", b'"yesterday"'),
            "field 'time' is not an ISO 8601 time with offset",
        ),
        (
            "coinbase",
            _with(COINBASE_TICKER, "time", b'"2024-03-13T11:10:41.270099"'),
            "field 'time' is not an ISO 8601 time with offset",
        ),
        (
            "coinbase",
            _with(COINBASE_TICKER, "time", b'"2024-03-13T12:10:41.270099Z"'),
            "field 'time' is in the future",
        ),
        ("kraken", _with(KRAKEN_TICKER, "c", b'"73380.6"'), "field 'c' is not an array"),
        ("kraken", _with(KRAKEN_TICKER, "v", b'["165.16072288"]'), "field 'v[1]' missing"),
        (
            "kraken",
            b'{"error":[],"result":{"XBTUSDT":{},"ETHUSDT":{}}}',
            "result is not an object with exactly one pair",
        ),
        ("kraken", b'{"error":[],"result":{"XBTUSDT":[]}}', "result's pair is not an object"),
    ],
)
def test_it_rejects_a_hostile_answer(kind, body, message):
    assert _error(kind, 200, body) == message


def _reason(kind: str, status: int, body: bytes) -> str:
    with pytest.raises(ExchangeError) as caught:
        _parse(kind, status, body)
    return caught.value.reason


def test_it_gives_a_venue_error_body_the_reason_venue_error():
    assert _reason("coinbase", 404, COINBASE_NOT_FOUND) == "venue_error"


def test_it_gives_an_html_outage_page_the_reason_venue_error():
    assert _reason("kraken", 520, HTML_PAGE) == "venue_error"


def test_it_gives_a_malformed_ticker_the_reason_bad_response():
    assert _reason("binance", 200, BINANCE_TICKER[:150]) == "bad_response"

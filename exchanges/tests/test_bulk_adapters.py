"""Bulk tickers: URLs, and recorded answers for several pairs, good, partly bad and failed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from exchanges.adapters import get_adapter
from exchanges.quotes import ExchangeError, Pair, Quote, UnknownPair
from exchanges.tests.recordings import body, load

RECEIVED_AT = datetime(2024, 3, 13, 11, 10, 47, tzinfo=UTC)
# GET /api/v3/ticker/24hr?symbols=["BNBBTC"], Binance's documented answer
BINANCE_DOCUMENTED = body("binance/ticker_24hr_symbols.json")
# GET /api/v3/ticker/24hr?symbols=["BTCUSDT","BNBBTC"], built from the recorded tickers of the two
# symbols: no recorded answer for several symbols was found (recorded/SOURCES.md).
BINANCE_TICKERS = json.dumps(
    [load("binance/ticker_24hr_BTCUSDT.json"), load("binance/ticker_24hr_BNBBTC.json")]
).encode()
# GET /0/public/Ticker?pair=XBTUSDT,XBTUSD, likewise built from the recorded single answers: the
# newer market answers under the name asked for, the oldest under its legacy name XXBTZUSD.
KRAKEN_TICKERS = json.dumps(
    {
        "error": [],
        "result": {
            **load("kraken/ticker_XBTUSDT.json")["result"],
            **load("kraken/ticker_XXBTZUSD.json")["result"],
        },
    }
).encode()
PAIRS = {
    "binance": [Pair("BTCUSDT", "BTC", "USDT"), Pair("BNBBTC", "BNB", "BTC")],
    "kraken": [Pair("BTCUSDT", "BTC", "USDT"), Pair("BTCUSD", "BTC", "USD")],
}
USDT_PAIRS = [Pair("BTCUSDT", "BTC", "USDT"), Pair("ETHUSDT", "ETH", "USDT")]
BODIES = {"binance": BINANCE_TICKERS, "kraken": KRAKEN_TICKERS}


def parse_all(kind: str, body: bytes, status: int = 200) -> dict[str, Quote | ExchangeError]:
    return get_adapter(kind).parse_all(
        status, body, exchange=kind, pairs=PAIRS[kind], received_at=RECEIVED_AT
    )


def edited(kind: str, edit: Any) -> bytes:
    """Return the recorded answer after edit(tickers), where tickers is the list or the result."""
    payload = json.loads(BODIES[kind])
    edit(payload if kind == "binance" else payload["result"])
    return json.dumps(payload).encode()


def error_of(result: Quote | ExchangeError) -> tuple[str, str]:
    assert isinstance(result, ExchangeError)
    return result.reason, str(result)


def test_it_asks_binance_for_several_symbols_in_one_compact_json_array():
    url = get_adapter("binance").tickers_url("https://api.binance.com/", USDT_PAIRS)
    assert (
        url
        == "https://api.binance.com/api/v3/ticker/24hr?symbols=%5B%22BTCUSDT%22,%22ETHUSDT%22%5D"
    )


def test_it_asks_kraken_for_several_pairs_in_one_comma_separated_list():
    url = get_adapter("kraken").tickers_url("https://api.kraken.com", PAIRS["kraken"])
    assert url == "https://api.kraken.com/0/public/Ticker?pair=XBTUSDT,XBTUSD"


@pytest.mark.parametrize("kind", ["binance", "kraken"])
def test_it_asks_for_one_pair_with_the_single_ticker_url(kind):
    adapter = get_adapter(kind)
    assert adapter.url("http://venue", USDT_PAIRS[:1]) == adapter.ticker_url(
        "http://venue", "BTC", "USDT"
    )


def test_it_knows_coinbase_has_no_bulk_ticker():
    adapter = get_adapter("coinbase")
    assert adapter.max_pairs == 1
    with pytest.raises(NotImplementedError, match="coinbase has no bulk ticker"):
        adapter.tickers_url("https://api.exchange.coinbase.com", USDT_PAIRS)


def test_it_asks_binance_and_kraken_for_up_to_100_pairs_a_call():
    assert (get_adapter("binance").max_pairs, get_adapter("kraken").max_pairs) == (100, 100)


def test_it_reads_binance_s_documented_bulk_answer():
    missing, quote = parse_all("binance", BINANCE_DOCUMENTED).values()
    assert error_of(missing) == ("bad_response", "ticker missing from the answer")
    assert quote == Quote(
        exchange="binance",
        symbol="BNBBTC",
        price=Decimal("4.000002"),
        bid=Decimal("4.0"),
        ask=Decimal("4.000002"),
        volume=Decimal("8913.3"),
        timestamp=datetime(2017, 7, 12, 14, 31, 39, 40000, tzinfo=UTC),
        received_at=RECEIVED_AT,
    )


def test_it_reads_every_ticker_of_a_binance_bulk_answer():
    quotes = parse_all("binance", BINANCE_TICKERS)
    assert list(quotes) == ["BTCUSDT", "BNBBTC"]
    assert quotes["BTCUSDT"] == Quote(
        exchange="binance",
        symbol="BTCUSDT",
        price=Decimal("73369.84"),
        bid=Decimal("73369.83"),
        ask=Decimal("73369.84"),
        volume=Decimal("72140.348628"),
        timestamp=datetime(2024, 3, 13, 11, 10, 45, 391000, tzinfo=UTC),
        received_at=RECEIVED_AT,
    )
    assert [q.price for q in quotes.values()] == [Decimal("73369.84"), Decimal("4.000002")]


def test_it_reads_kraken_tickers_under_the_name_asked_for_or_the_legacy_one():
    quotes = parse_all("kraken", KRAKEN_TICKERS)
    assert quotes["BTCUSD"] == Quote(
        exchange="kraken",
        symbol="BTCUSD",
        price=Decimal("3809.6"),
        bid=Decimal("3809.0"),
        ask=Decimal("3809.1"),
        volume=Decimal("4120.69226171"),
        timestamp=None,
        received_at=RECEIVED_AT,
    )
    assert [q.price for q in quotes.values()] == [Decimal("73380.6"), Decimal("3809.6")]


def test_it_reads_kraken_tickers_answered_under_the_names_asked_for():
    body = KRAKEN_TICKERS.replace(b'"XXBTZUSD"', b'"XBTUSD"')
    assert all(isinstance(q, Quote) for q in parse_all("kraken", body).values())


def _spoil_second(kind: str, tickers: Any) -> None:
    if kind == "binance":
        tickers[1]["lastPrice"] = "NaN"
    else:
        tickers["XXBTZUSD"]["c"][0] = "NaN"


@pytest.mark.parametrize(("kind", "field"), [("binance", "lastPrice"), ("kraken", "c[0]")])
def test_it_gives_a_malformed_entry_its_own_error_and_keeps_the_others(kind, field):
    results = parse_all(kind, edited(kind, lambda tickers: _spoil_second(kind, tickers)))
    first, second = results.values()
    assert error_of(second) == ("bad_response", f"field '{field}' is not a decimal string")
    assert isinstance(first, Quote)


@pytest.mark.parametrize(
    ("kind", "edit"),
    [
        ("binance", lambda tickers: tickers.pop(0)),
        ("binance", lambda tickers: tickers[0].update(symbol="BTCUSDC")),
        ("binance", lambda tickers: tickers[0].pop("symbol")),
        ("kraken", lambda result: result.pop("XBTUSDT")),
    ],
)
def test_it_reports_a_symbol_missing_from_the_answer_as_its_own_error(kind, edit):
    first, second = parse_all(kind, edited(kind, edit)).values()
    assert error_of(first) == ("bad_response", "ticker missing from the answer")
    assert isinstance(second, Quote)


def test_it_gives_an_entry_that_is_not_an_object_its_own_error():
    body = edited("kraken", lambda result: result.update(XXBTZUSD="<html>"))
    first, second = parse_all("kraken", body).values()
    assert error_of(second) == ("bad_response", "ticker is not an object")
    assert isinstance(first, Quote)


def test_it_skips_binance_entries_that_are_not_tickers():
    body = edited("binance", lambda tickers: tickers.extend(["x", {"symbol": ["BTCUSDT"]}, None]))
    assert all(isinstance(q, Quote) for q in parse_all("binance", body).values())


@pytest.mark.parametrize(
    ("kind", "status", "body", "message"),
    [
        (
            "binance",
            400,
            body("binance/error_invalid_symbol.json"),
            "binance does not list this pair",
        ),
        (
            "kraken",
            200,
            b'{"error":["EQuery:Unknown asset pair"]}',  # written, not recorded
            "kraken does not list this pair",
        ),
    ],
)
def test_it_fails_the_whole_answer_on_the_venue_s_unknown_symbol_error(kind, status, body, message):
    with pytest.raises(UnknownPair) as caught:
        parse_all(kind, body, status)
    assert (caught.value.reason, str(caught.value)) == ("venue_error", message)


@pytest.mark.parametrize(
    ("kind", "status", "body", "reason", "message"),
    [
        ("binance", 503, b"<html>503</html>", "venue_error", "binance answered HTTP 503"),
        ("binance", 200, BINANCE_TICKERS[:200], "bad_response", "not JSON"),
        ("binance", 200, b'{"symbol":"BTCUSDT"}', "bad_response", "top level is not a JSON array"),
        ("kraken", 200, b'{"error":[],"result":[]}', "bad_response", "result is not an object"),
        ("kraken", 200, b"[]", "bad_response", "top level is not a JSON object"),
        (
            "kraken",
            200,
            b'{"error":["EService:Unavailable"]}',
            "venue_error",
            "kraken answered an error (HTTP 200)",
        ),
    ],
)
def test_it_fails_the_whole_answer_when_it_is_no_list_of_tickers(
    kind, status, body, reason, message
):
    with pytest.raises(ExchangeError) as caught:
        parse_all(kind, body, status)
    assert not isinstance(caught.value, UnknownPair)
    assert (caught.value.reason, str(caught.value)) == (reason, message)


def test_it_tells_an_unknown_pair_from_other_venue_errors_in_single_answers_too():
    adapter = get_adapter("coinbase")
    with pytest.raises(UnknownPair):
        adapter.parse(
            404, b'{"message":"NotFound"}', exchange="coinbase", symbol="X", received_at=RECEIVED_AT
        )

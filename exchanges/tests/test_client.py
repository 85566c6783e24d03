from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from django.conf import settings

from exchanges.client import fetch_all, fetch_quote, fetch_quotes
from exchanges.models import Exchange
from exchanges.quotes import ExchangeError, Pair, Quote
from exchanges.tests.recordings import load
from exchanges.tests.servers import QuietHandler, serving


def exchange(kind: str, base_url: str, timeout: float = 2.0) -> Exchange:
    return Exchange(name=kind, kind=kind, base_url=base_url, timeout_seconds=timeout)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def flooding_url() -> Iterator[str]:
    """A server whose every answer is far larger than a ticker."""

    class Flood(QuietHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"[" + b"1," * settings.PRICEHUB_VENUE_MAX_RESPONSE_BYTES + b"1]")

    with serving(Flood) as url:
        yield url


@pytest.mark.parametrize("kind", ["binance", "coinbase", "kraken"])
def test_it_fetches_a_quote_from_each_venue_over_http(venues, kind):
    quote = fetch_quote(exchange(kind, venues[kind]), symbol="BTCUSDT", base="BTC", quote="USDT")
    assert (quote.exchange, quote.symbol) == (kind, "BTCUSDT")
    assert quote.bid < quote.ask


def test_it_reports_a_venue_that_refuses_connections():
    venue = exchange("binance", "http://127.0.0.1:9")
    with pytest.raises(ExchangeError, match="unreachable"):
        fetch_quote(venue, symbol="BTCUSDT", base="BTC", quote="USDT")


def test_it_gives_up_on_a_venue_slower_than_its_timeout(silent_port):
    venue = exchange("coinbase", f"http://127.0.0.1:{silent_port}", timeout=0.3)
    with pytest.raises(ExchangeError, match=r"timed out after 0\.3 s"):
        fetch_quote(venue, symbol="BTCUSDT", base="BTC", quote="USDT")


def test_it_refuses_an_answer_larger_than_a_ticker(flooding_url):
    with pytest.raises(ExchangeError, match="larger than"):
        fetch_quote(exchange("binance", flooding_url), symbol="BTCUSDT", base="BTC", quote="USDT")


def test_it_returns_each_venue_result_in_order(venues):
    results = fetch_quotes(
        [exchange("kraken", venues["kraken"]), exchange("binance", "http://127.0.0.1:9")],
        symbol="ETHUSDT",
        base="ETH",
        quote="USDT",
    )
    assert [type(result) for result in results] == [Quote, ExchangeError]


def test_it_gives_a_timeout_and_a_refused_connection_their_reasons(silent_port):
    reasons = [
        result.reason
        for result in fetch_quotes(
            [
                exchange("coinbase", f"http://127.0.0.1:{silent_port}", timeout=0.2),
                exchange("binance", "http://127.0.0.1:9"),
            ],
            symbol="BTCUSDT",
            base="BTC",
            quote="USDT",
        )
    ]
    assert reasons == ["timeout", "unreachable"]


@pytest.fixture
def whole_market_url() -> Iterator[str]:
    """An OKX answering every ticker call with 800 markets, each the recorded BTC-USDT ticker
    (recorded/okx/ticker_BTC-USDT.json) under another name: about 350 KB, as large as the
    real venue's whole spot market."""
    recorded = load("okx/ticker_BTC-USDT.json")
    entry = recorded["data"][0]
    names = ["BTC-USDT", "ETH-USDT"] + [f"C{n}-USDT" for n in range(798)]
    body = json.dumps({**recorded, "data": [{**entry, "instId": n} for n in names]}).encode()
    assert len(body) > settings.PRICEHUB_VENUE_MAX_RESPONSE_BYTES + 2 * 2048

    class WholeMarket(QuietHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

    with serving(WholeMarket) as url:
        yield url


def test_it_takes_a_bulk_answer_as_large_as_the_whole_market_it_holds(whole_market_url):
    # Asked for two pairs, OKX answers with every market it lists: the allowance is its size,
    # not that of two tickers.
    pairs = [Pair("BTCUSDT", "BTC", "USDT", "BTC-USDT"), Pair("ETHUSDT", "ETH", "USDT", "ETH-USDT")]
    okx = exchange("okx", whole_market_url)
    results = fetch_all([(okx, pairs)], deadline=time.monotonic() + 5)["okx"]
    assert {symbol: type(result) for symbol, result in results.items()} == {
        "BTCUSDT": Quote,
        "ETHUSDT": Quote,
    }

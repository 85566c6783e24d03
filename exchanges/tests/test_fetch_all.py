"""fetch_all over real HTTP: every venue, every pair, in as few calls as each venue allows."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.core.exceptions import ValidationError

from exchanges import health
from exchanges.adapters.binance import BinanceAdapter
from exchanges.circuits import circuit_state
from exchanges.client import fetch_all
from exchanges.models import Exchange
from exchanges.quotes import ExchangeError, Pair, Quote, UnknownPair
from exchanges.tests.servers import QuietHandler, serving
from mock_exchange_app import control

BTC, ETH, SOL = (Pair(f"{base}USDT", base, "USDT") for base in ("BTC", "ETH", "SOL"))
NOPE = Pair("NOPEUSDT", "NOPE", "USDT")
KINDS = ("binance", "coinbase", "kraken")
# A bulk answer of about 300 KiB: too big for one pair, not for 50 of them.
BIG_ARRAY = b"[" + b'{"symbol":"PADDING"},' * 14_000 + b"{}]"


def asking(exchanges: list[Exchange], pairs: list[Pair]) -> list[tuple[Exchange, list[Pair]]]:
    """Ask each of exchanges for every pair."""
    return [(exchange, pairs) for exchange in exchanges]


@pytest.fixture
def venue_urls(venues: dict[str, str]) -> Iterator[dict[str, str]]:
    """The three venues served over HTTP, with every fault cleared after the test."""
    yield venues
    for url in venues.values():
        control.clear_faults(url)


@pytest.fixture
def one_failure_opens(settings) -> None:
    settings.PRICEHUB_CIRCUIT_FAIL_MAX = 1
    settings.PRICEHUB_CIRCUIT_RESET_SECONDS = 30


@pytest.fixture
def big_answer_url() -> Iterator[str]:
    """A server whose every answer is a JSON array of about 300 KiB."""

    class Big(QuietHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(BIG_ARRAY)))
            self.end_headers()
            self.wfile.write(BIG_ARRAY)

    with serving(Big) as url:
        yield url


@pytest.fixture
def redirect_to(venue_urls: dict[str, str]) -> Iterator[str]:
    """A server that redirects every request to the Binance venue's same path."""

    class Redirect(QuietHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", venue_urls["binance"] + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Redirect) as url:
        yield url


def exchange(kind: str, base_url: str, timeout: float = 2.0) -> Exchange:
    return Exchange(name=kind, kind=kind, base_url=base_url, timeout_seconds=timeout)


def all_venues(urls: dict[str, str]) -> list[Exchange]:
    return [exchange(kind, urls[kind]) for kind in KINDS]


def within(seconds: float) -> float:
    return time.monotonic() + seconds


def requests_made(name: str) -> int:
    return health.venue_health(name)["requests"]


def reasons(results: dict[str, Quote | ExchangeError]) -> dict[str, str]:
    return {s: "ok" if isinstance(r, Quote) else r.reason for s, r in results.items()}


def test_it_quotes_every_pair_from_every_venue_in_the_order_of_the_pairs(venue_urls):
    results = fetch_all(asking(all_venues(venue_urls), [SOL, BTC, ETH]), deadline=within(5))
    assert list(results) == list(KINDS)
    for name, quotes in results.items():
        assert list(quotes) == ["SOLUSDT", "BTCUSDT", "ETHUSDT"]
        assert all(isinstance(q, Quote) and q.exchange == name for q in quotes.values())


def test_it_asks_binance_and_kraken_once_for_all_pairs_and_coinbase_once_per_pair(venue_urls):
    fetch_all(asking(all_venues(venue_urls), [BTC, ETH, SOL]), deadline=within(5))
    assert [requests_made(kind) for kind in KINDS] == [1, 3, 1]


def test_it_asks_for_at_most_the_venue_s_limit_of_pairs_a_call(venue_urls, monkeypatch):
    monkeypatch.setattr(BinanceAdapter, "max_pairs", 2)
    pairs = [BTC, ETH, SOL, Pair("BNBUSDT", "BNB", "USDT"), Pair("XRPUSDT", "XRP", "USDT")]
    results = fetch_all(
        asking([exchange("binance", venue_urls["binance"])], pairs), deadline=within(5)
    )
    assert set(reasons(results["binance"]).values()) == {"ok"}
    assert requests_made("binance") == 3


def test_it_asks_nothing_twice_when_a_pair_is_given_twice(venue_urls):
    results = fetch_all(
        asking([exchange("coinbase", venue_urls["coinbase"])], [BTC, BTC]), deadline=within(5)
    )
    assert list(results["coinbase"]) == ["BTCUSDT"]
    assert requests_made("coinbase") == 1


def test_it_fails_every_symbol_of_a_venue_that_is_down_and_no_other(venue_urls):
    control.set_fault(venue_urls["kraken"], "*", "down")
    results = fetch_all(asking(all_venues(venue_urls), [BTC, ETH]), deadline=within(5))
    assert {name: reasons(quotes) for name, quotes in results.items()} == {
        "binance": {"BTCUSDT": "ok", "ETHUSDT": "ok"},
        "coinbase": {"BTCUSDT": "ok", "ETHUSDT": "ok"},
        "kraken": {"BTCUSDT": "venue_error", "ETHUSDT": "venue_error"},
    }
    assert str(results["kraken"]["BTCUSDT"]) == "kraken answered HTTP 503"


@pytest.mark.usefixtures("one_failure_opens")
@pytest.mark.parametrize("kind", ["binance", "kraken"])
def test_it_fails_only_the_symbol_a_bulk_answer_spoils_and_keeps_the_circuit_closed(
    venue_urls, kind
):
    control.set_fault(venue_urls[kind], "ETHUSDT", "garbage", kind="nan")
    results = fetch_all(
        asking([exchange(kind, venue_urls[kind])], [BTC, ETH, SOL]), deadline=within(5)
    )
    assert reasons(results[kind]) == {"BTCUSDT": "ok", "ETHUSDT": "bad_response", "SOLUSDT": "ok"}
    assert "is not a decimal string" in str(results[kind]["ETHUSDT"])
    assert circuit_state(kind) == "closed"


@pytest.mark.parametrize("kind", ["binance", "kraken"])
def test_it_reports_a_symbol_left_out_of_a_bulk_answer_as_missing(venue_urls, kind):
    control.set_fault(venue_urls[kind], "BTCUSDT", "down")
    results = fetch_all(asking([exchange(kind, venue_urls[kind])], [BTC, ETH]), deadline=within(5))
    assert str(results[kind]["BTCUSDT"]) == "ticker missing from the answer"
    assert isinstance(results[kind]["ETHUSDT"], Quote)


@pytest.mark.usefixtures("one_failure_opens")
def test_it_counts_a_bulk_answer_without_one_usable_ticker_against_the_circuit(venue_urls):
    for pair in (BTC, ETH):
        control.set_fault(venue_urls["binance"], pair.symbol, "garbage", kind="types")
    results = fetch_all(
        asking([exchange("binance", venue_urls["binance"])], [BTC, ETH]), deadline=within(5)
    )
    assert reasons(results["binance"]) == {"BTCUSDT": "bad_response", "ETHUSDT": "bad_response"}
    assert circuit_state("binance") == "open"


@pytest.mark.usefixtures("one_failure_opens")
@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("binance", "binance does not list this pair"),
        ("kraken", "kraken does not list this pair"),
    ],
)
def test_it_asks_for_each_pair_alone_when_one_in_a_bulk_call_is_unknown(venue_urls, kind, message):
    results = fetch_all(
        asking([exchange(kind, venue_urls[kind])], [BTC, NOPE, ETH]), deadline=within(5)
    )
    btc, nope, eth = results[kind].values()
    assert isinstance(btc, Quote)
    assert isinstance(eth, Quote)
    assert isinstance(nope, UnknownPair)
    assert (nope.reason, str(nope)) == ("venue_error", message)
    assert requests_made(kind) == 4  # the bulk call, then one per pair
    assert circuit_state(kind) == "closed"  # an unlisted pair is no outage


def test_it_returns_by_the_deadline_while_a_venue_drips_its_answer(venue_urls):
    control.set_fault(venue_urls["binance"], "*", "drip", rate=8)
    venues = [
        exchange("binance", venue_urls["binance"], timeout=10),
        exchange("kraken", venue_urls["kraken"]),
    ]
    started = time.monotonic()
    results = fetch_all(asking(venues, [BTC, ETH]), deadline=started + 0.6)
    assert time.monotonic() - started < 0.6 + 0.3
    assert reasons(results["binance"]) == {"BTCUSDT": "timeout", "ETHUSDT": "timeout"}
    assert reasons(results["kraken"]) == {"BTCUSDT": "ok", "ETHUSDT": "ok"}


def test_it_ends_a_dripping_call_after_the_venue_s_timeout_in_all(venue_urls):
    control.set_fault(venue_urls["coinbase"], "*", "drip", rate=20)
    venue = exchange("coinbase", venue_urls["coinbase"], timeout=0.5)
    started = time.monotonic()
    (result,) = fetch_all(asking([venue], [BTC]), deadline=started + 30)["coinbase"].values()
    assert time.monotonic() - started < 0.5 + 0.3
    assert (result.reason, str(result)) == ("timeout", "timed out after 0.5 s")
    assert health.venue_health("coinbase")["last_error"]["detail"] == "timed out after 0.5 s"


def test_it_asks_nothing_once_the_deadline_has_passed(venue_urls):
    results = fetch_all(asking(all_venues(venue_urls), [BTC, ETH]), deadline=within(-1))
    assert all(
        reasons(quotes) == {"BTCUSDT": "timeout", "ETHUSDT": "timeout"}
        for quotes in results.values()
    )
    assert [requests_made(kind) for kind in KINDS] == [0, 0, 0]


def test_it_lets_a_bulk_answer_grow_with_the_pairs_asked_for(big_answer_url):
    venue = exchange("binance", big_answer_url)
    (alone,) = fetch_all(asking([venue], [BTC]), deadline=within(5))["binance"].values()
    many = [Pair(f"A{n}USDT", f"A{n}", "USDT") for n in range(50)]
    among_many = fetch_all(asking([venue], many), deadline=within(5))["binance"]["A0USDT"]
    assert str(alone) == "response larger than 264192 bytes"
    assert str(among_many) == "ticker missing from the answer"


def test_it_answers_nothing_for_no_pairs(venue_urls):
    assert fetch_all(asking(all_venues(venue_urls), []), deadline=within(5)) == {
        k: {} for k in KINDS
    }


def test_a_round_of_many_calls_counts_once_for_the_circuit_and_notes_every_call(
    venue_urls, settings
):
    settings.PRICEHUB_CIRCUIT_FAIL_MAX = 2
    coinbase = exchange("coinbase", venue_urls["coinbase"])
    control.set_fault(venue_urls["coinbase"], "*", "down")
    fetch_all(asking([coinbase], [BTC, ETH, SOL]), deadline=within(5))  # three calls, one round
    assert (circuit_state("coinbase"), requests_made("coinbase")) == ("closed", 3)
    results = fetch_all(asking([coinbase], [BTC, ETH, SOL]), deadline=within(5))
    assert circuit_state("coinbase") == "open"
    assert set(reasons(results["coinbase"]).values()) == {"venue_error"}
    results = fetch_all(asking([coinbase], [BTC]), deadline=within(5))
    assert reasons(results["coinbase"]) == {"BTCUSDT": "circuit_open"}
    assert "2 failed rounds in a row" in str(results["coinbase"]["BTCUSDT"])


def test_it_does_not_follow_a_venue_s_redirect(redirect_to):
    results = fetch_all(asking([exchange("binance", redirect_to)], [BTC]), deadline=within(5))
    assert str(results["binance"]["BTCUSDT"]) == "binance answered HTTP 302"


def test_it_asks_no_private_address_unless_allowed(venue_urls, settings):
    settings.PRICEHUB_VENUE_PRIVATE_ADDRESSES = False
    results = fetch_all(asking(all_venues(venue_urls), [BTC]), deadline=within(5))
    for kind in KINDS:
        refused = results[kind]["BTCUSDT"]
        assert (refused.reason, requests_made(kind)) == ("unreachable", 0)
        assert "points to a private, loopback or link-local address" in str(refused)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://10.0.0.7:8081", False),
        ("http://127.0.0.1:8081", False),
        ("http://[::1]:8081", False),
        ("https://93.184.215.14", True),
        ("ftp://93.184.215.14", False),
    ],
)
def test_an_exchange_row_may_not_point_at_an_internal_service(settings, url, allowed):
    settings.PRICEHUB_VENUE_PRIVATE_ADDRESSES = False
    row = Exchange(name="binance", kind="binance", base_url=url, timeout_seconds=2)
    if allowed:
        row.clean_fields(exclude=["name"])
    else:
        with pytest.raises(ValidationError, match="base_url"):
            row.clean_fields(exclude=["name"])

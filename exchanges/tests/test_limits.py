"""Venues' rate limits honoured, over real HTTP to the simulated venues and a real Redis: a
budget every process shares, hot calls first, and a venue's refusal waited out as it asks."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from django.core.cache import cache
from django.test import override_settings

from deploy.services import free_port
from exchanges import limits, wire
from exchanges.adapters import get_adapter
from exchanges.circuits import circuit_state
from exchanges.client import fetch_all
from exchanges.limits import Limit
from exchanges.models import Exchange
from exchanges.quotes import ExchangeError, Pair, Quote, RateLimited
from mock_exchange_app import control

BTC = Pair("BTCUSDT", "BTC", "USDT")
KINDS = ("binance", "coinbase", "kraken")


@pytest.fixture
def venue_urls(venues: dict[str, str]) -> Iterator[dict[str, str]]:
    """The venues, their limits counting from nothing and documented again after the test."""
    for url in venues.values():
        control.reset_limits(url)
    yield venues
    for url in venues.values():
        control.reset_limits(url)


def venue(kind: str, urls: dict[str, str]) -> Exchange:
    return Exchange(name=kind, kind=kind, base_url=urls[kind], timeout_seconds=2)


def ask(exchange: Exchange, pairs: list[Pair], seconds: float = 2, hot: bool = False) -> dict:
    return fetch_all([(exchange, pairs)], deadline=time.monotonic() + seconds, hot=hot)[
        exchange.name
    ]


def coinbase_pairs(count: int) -> list[Pair]:
    # Coinbase has no bulk ticker: each pair is a call of its own.
    return [Pair(f"BTCUSD-{n}", "BTC", "USD", "BTC-USD") for n in range(count)]


def test_coinbase_is_asked_no_more_than_10_times_a_second(venue_urls):
    coinbase = venue("coinbase", venue_urls)
    started = time.monotonic()
    results = ask(coinbase, coinbase_pairs(25), seconds=1.5, hot=True)
    assert control.limits(venue_urls["coinbase"])["refused"] == 0
    quotes = [r for r in results.values() if isinstance(r, Quote)]
    held = [r for r in results.values() if isinstance(r, RateLimited)]
    # 10 in the first second, at most 10 more as it frees; the rest held back, not asked.
    assert len(quotes) <= 20
    assert len(held) >= 5
    assert held[0].reason == "rate_limited"
    assert "held back to keep within coinbase's limit of 10 requests a second" in str(held[0])
    assert time.monotonic() - started < 2
    state = limits.state("coinbase", get_adapter("coinbase").limit)
    assert state["held"] == len(held) > 0
    assert state["refused"] == 0


def test_hot_calls_may_take_the_share_kept_for_them(venue_urls, settings):
    settings.PRICEHUB_VENUE_HOT_RESERVE = 0.3
    coinbase = venue("coinbase", venue_urls)
    cold = ask(coinbase, coinbase_pairs(10), seconds=0.3)
    assert sum(isinstance(r, Quote) for r in cold.values()) == 7  # 3 of 10 kept for hot
    held = [r for r in cold.values() if isinstance(r, RateLimited)]
    assert len(held) == 3
    assert "30% of it kept for hot assets" in str(held[0])
    hot = ask(coinbase, coinbase_pairs(5), seconds=0.3, hot=True)
    assert sum(isinstance(r, Quote) for r in hot.values()) == 3
    assert control.limits(venue_urls["coinbase"])["refused"] == 0


def test_the_budget_is_shared_through_redis(venue_urls):
    limit = get_adapter("coinbase").limit
    for _ in range(10):
        assert limits.hold("coinbase", limit, 1, hot=True, deadline=time.monotonic()) is None
    # Another process sees the same budget: it is in Redis, not in this one.
    assert any("venue-budget" in key for key in cache.keys("*"))
    held = limits.hold("coinbase", limit, 1, hot=True, deadline=time.monotonic())
    assert isinstance(held, RateLimited)


def test_a_429_makes_the_venue_wait_what_it_said_and_is_no_fault(venue_urls, settings):
    settings.PRICEHUB_CIRCUIT_FAIL_MAX = 1
    binance = venue("binance", venue_urls)
    control.set_limit(venue_urls["binance"], 4)  # two calls of weight 2
    assert all(isinstance(r, Quote) for _ in range(2) for r in ask(binance, [BTC]).values())
    refused = ask(binance, [BTC])["BTCUSDT"]
    assert isinstance(refused, RateLimited)
    assert refused.reason == "rate_limited"
    assert "binance refused the call for its rate limit (HTTP 429)" in str(refused)
    assert 0 < refused.wait <= 60
    # Asked again at once: not sent, so the address is not banned.
    again = ask(binance, [BTC])["BTCUSDT"]
    assert "binance asked to wait until" in str(again)
    assert control.limits(venue_urls["binance"]) == {
        "venue": "binance",
        "limit": 4,
        "refused": 1,
        "banned_until": None,
    }
    assert circuit_state("binance") == "closed"
    state = limits.state("binance", get_adapter("binance").limit)
    assert state["rule"] == "6000 weight per 60 s"
    assert state["refused"] == 1
    assert state["why"] == str(refused)
    assert state["waiting_until"] is not None


def test_a_418_ban_is_waited_out_for_its_retry_after(venue_urls):
    binance = venue("binance", venue_urls)
    url = venue_urls["binance"]
    control.set_limit(url, 2)
    ticker = f"{url}/api/v3/ticker/24hr?symbol=BTCUSDT"
    # Another user of the address ignores a 429 and gets it banned.
    statuses = [requests.get(ticker, timeout=5).status_code for _ in range(3)]
    assert statuses == [200, 429, 418]
    banned = ask(binance, [BTC])["BTCUSDT"]
    assert isinstance(banned, RateLimited)
    assert "binance banned the address (HTTP 418) for" in str(banned)
    assert 100 < banned.wait <= 120
    ask(binance, [BTC])
    assert control.limits(url)["refused"] == 3  # PriceHub's one call after the ban, no more


def test_kraken_s_own_words_for_its_limit_make_it_wait(venue_urls):
    kraken = venue("kraken", venue_urls)
    control.set_limit(venue_urls["kraken"], 1)
    assert isinstance(ask(kraken, [BTC])["BTCUSDT"], Quote)
    refused = ask(kraken, [BTC])["BTCUSDT"]
    assert isinstance(refused, RateLimited)
    assert str(refused) == "kraken refused the call for its rate limit"
    assert refused.wait == 15
    assert "kraken asked to wait until" in str(ask(kraken, [BTC])["BTCUSDT"])
    assert control.limits(venue_urls["kraken"])["refused"] == 1


def test_bybit_s_403_is_a_ban_waited_out_for_the_10_minutes_it_documents(venue_urls):
    bybit = venue("bybit", venue_urls)
    control.set_limit(venue_urls["bybit"], 1)
    assert isinstance(ask(bybit, [BTC])["BTCUSDT"], Quote)
    banned = ask(bybit, [BTC])["BTCUSDT"]
    assert isinstance(banned, RateLimited)
    assert str(banned) == "bybit banned the address (HTTP 403) for 600 s"
    assert "bybit asked to wait until" in str(ask(bybit, [BTC])["BTCUSDT"])
    assert control.limits(venue_urls["bybit"])["refused"] == 1


@pytest.mark.parametrize(("kind", "wait"), [("okx", 2), ("bitstamp", 60)])
def test_okx_s_429_and_bitstamp_s_own_words_make_them_wait(venue_urls, kind, wait):
    exchange = venue(kind, venue_urls)
    control.set_limit(venue_urls[kind], 1)
    assert isinstance(ask(exchange, [BTC])["BTCUSDT"], Quote)
    refused = ask(exchange, [BTC])["BTCUSDT"]
    assert isinstance(refused, RateLimited)
    assert refused.wait == wait
    assert control.limits(venue_urls[kind])["refused"] == 1


def test_binance_s_own_count_near_its_limit_makes_it_wait_for_the_next_minute(venue_urls):
    limit = get_adapter("binance").limit
    limits.used("binance", limit, 5000)
    assert limits.state("binance", limit)["waiting_until"] is None
    limits.used("binance", limit, 5800)
    state = limits.state("binance", limit)
    assert state["why"] == "5800 of its 6000 weight per 60 s used"
    seconds = (state["waiting_until"] - limits.datetime.now(limits.UTC)).total_seconds()
    assert 0 < seconds <= 60
    held = limits.hold("binance", limit, 2, hot=True, deadline=time.monotonic() + 1)
    assert "binance asked to wait until" in str(held)


def test_a_wait_is_never_shortened(venue_urls):
    limits.wait("kraken", 60, "long")
    limits.wait("kraken", 5, "short")
    assert limits.state("kraken", get_adapter("kraken").limit)["why"] == "long"


def test_without_limits_nothing_is_held(venue_urls, settings):
    settings.PRICEHUB_VENUE_LIMITS = False
    limit = get_adapter("coinbase").limit
    assert all(
        limits.hold("coinbase", limit, 1, hot=False, deadline=time.monotonic()) is None
        for _ in range(30)
    )


def test_a_hot_call_waits_for_room_briefly_and_others_until_their_deadline(venue_urls, settings):
    settings.PRICEHUB_VENUE_HOT_WAIT_SECONDS = 0.25
    coinbase, limit = venue("coinbase", venue_urls), get_adapter("coinbase").limit
    for _ in range(10):
        assert limits.hold("coinbase", limit, 1, hot=True, deadline=time.monotonic()) is None
    started = time.monotonic()
    held = ask(coinbase, coinbase_pairs(1), seconds=0.9, hot=True)["BTCUSD-0"]
    assert isinstance(held, RateLimited)
    assert 0.2 < time.monotonic() - started < 0.6  # the window frees only after a second
    # A cold call waits on: by its deadline, a second after the ten, there is room again.
    assert isinstance(ask(coinbase, coinbase_pairs(1), seconds=1.5)["BTCUSD-0"], Quote)


def test_a_catalogue_read_may_take_the_share_kept_for_hot_calls(venue_urls):
    limit = get_adapter("coinbase").limit
    for _ in range(7):  # all that calls for other tiers may take
        assert limits.hold("coinbase", limit, 1, hot=False, deadline=time.monotonic()) is None
    started = time.monotonic()
    assert len(wire.fetch_catalogue(venue("coinbase", venue_urls))) > 10
    assert time.monotonic() - started < 0.5


def test_a_catalogue_read_of_a_venue_it_may_not_ask_takes_nothing_from_its_budget(
    venue_urls, settings
):
    settings.PRICEHUB_VENUE_PRIVATE_ADDRESSES = False  # the simulated venue's loopback refused
    with pytest.raises(ExchangeError, match="refused") as refused:
        wire.fetch_catalogue(venue("coinbase", venue_urls))
    assert refused.value.reason == "unreachable"
    limit = get_adapter("coinbase").limit
    for _ in range(limit.amount):  # all ten calls of the second are still there
        assert limits.hold("coinbase", limit, 1, hot=True, deadline=time.monotonic()) is None


def test_with_redis_unreachable_each_process_keeps_the_budget_and_says_so_once(
    venue_urls, settings, caplog
):
    dead = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}"}
    }
    limit = Limit(3, 1)  # a budget of its own, unspent in this process
    with override_settings(CACHES=dead):
        taken = [limits.hold("dead-redis", limit, 1, hot=True, deadline=0) for _ in range(4)]
    assert taken[:3] == [None] * 3
    assert isinstance(taken[3], RateLimited)
    said = [r for r in caplog.records if "kept in this process" in r.getMessage()]
    assert len(said) == 1

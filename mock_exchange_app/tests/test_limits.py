"""The simulated venues' rate limits, as each venue documents them: Binance's weight a minute
with its 429, then 418 bans; Coinbase's 10 requests a second with bursts of 15; Kraken's call
counter. Times are given, so nothing here waits."""

from __future__ import annotations

import json

import pytest
import requests

from mock_exchange_app.limits import Limiter, binance_weight, control

TICKER = "/api/v3/ticker/24hr"
MINUTE = 1_800_000_000 // 60 * 60  # the start of a clock minute, epoch seconds


def headers(admission) -> dict[str, str]:
    return dict(admission.headers)


@pytest.mark.parametrize(
    ("path", "query", "weight"),
    [
        ("/api/v3/exchangeInfo", {}, 20),
        (TICKER, {"symbol": ["BTCUSDT"]}, 2),
        (TICKER, {"symbols": [json.dumps(["X"] * 20)]}, 2),
        (TICKER, {"symbols": [json.dumps(["X"] * 21)]}, 40),
        (TICKER, {"symbols": [json.dumps(["X"] * 100)]}, 40),
        (TICKER, {"symbols": [json.dumps(["X"] * 101)]}, 80),
        (TICKER, {}, 80),
        ("/api/v3/ticker/bookTicker", {"symbol": ["BTCUSDT"]}, 2),
        ("/api/v3/ticker/bookTicker", {}, 4),
    ],
)
def test_binance_weighs_each_call_as_its_docs_say(path, query, weight):
    assert binance_weight(path, query) == weight


def test_binance_counts_weight_in_clock_minutes_and_says_what_was_used():
    limiter = Limiter("binance")
    assert limiter.limit == 6000
    for used in range(2, 6001, 2):
        admission = limiter.admit(TICKER, {"symbol": ["BTCUSDT"]}, MINUTE + 59)
        assert admission.refusal is None
        assert headers(admission)["X-MBX-USED-WEIGHT-1M"] == str(used)
    # The next minute starts from nothing.
    admission = limiter.admit(TICKER, {"symbol": ["BTCUSDT"]}, MINUTE + 60)
    assert admission.refusal is None
    assert headers(admission)["X-MBX-USED-WEIGHT-1M"] == "2"
    assert limiter.refused == 0


def test_binance_refuses_past_its_limit_then_bans_an_address_that_does_not_wait():
    limiter = Limiter("binance")
    limiter.reset(limit=80)
    assert limiter.admit(TICKER, {}, MINUTE + 10).refusal is None  # all symbols: weight 80
    refused = limiter.admit(TICKER, {"symbol": ["BTCUSDT"]}, MINUTE + 10.5)
    status, body = refused.refusal
    assert (status, body["code"]) == (429, -1003)
    assert "current limit is 80 request weight per 1 MINUTE" in body["msg"]
    assert headers(refused)["Retry-After"] == "50"  # to the minute's end
    # Asked again within the wait: banned for 2 minutes, however the minute turns.
    banned = limiter.admit(TICKER, {"symbol": ["BTCUSDT"]}, MINUTE + 20)
    status, body = banned.refusal
    assert (status, body["code"]) == (418, -1003)
    assert "IP banned until" in body["msg"]
    assert headers(banned)["Retry-After"] == "120"
    still = limiter.admit(TICKER, {"symbol": ["BTCUSDT"]}, MINUTE + 100)
    assert still.refusal[0] == 418
    assert headers(still)["Retry-After"] == "40"
    assert limiter.admit(TICKER, {"symbol": ["BTCUSDT"]}, MINUTE + 141).refusal is None
    assert limiter.refused == 3
    # A second ban lasts twice as long.
    assert limiter.admit(TICKER, {}, MINUTE + 142).refusal[0] == 429
    second = limiter.admit(TICKER, {}, MINUTE + 143)
    assert headers(second)["Retry-After"] == "240"


def test_binance_lets_an_address_that_waited_as_told_go_on():
    limiter = Limiter("binance")
    limiter.reset(limit=80)
    limiter.admit(TICKER, {}, MINUTE + 10)
    assert limiter.admit(TICKER, {}, MINUTE + 30).refusal[0] == 429
    assert limiter.admit(TICKER, {}, MINUTE + 60).refusal is None
    assert limiter.state(MINUTE + 60)["banned_until"] is None


def test_coinbase_takes_bursts_of_15_and_10_requests_a_second():
    limiter = Limiter("coinbase")
    at = MINUTE + 0.0
    answers = [limiter.admit("/products/BTC-USD/ticker", {}, at).refusal for _ in range(16)]
    assert answers[:15] == [None] * 15
    assert answers[15] == (429, {"message": "Public rate limit exceeded"})
    assert limiter.admit("/products/BTC-USD/ticker", {}, at + 0.1).refusal is None
    assert limiter.admit("/products/BTC-USD/ticker", {}, at + 0.1).refusal is not None
    # A steady 10 a second is never refused.
    refused = [
        limiter.admit("/products/BTC-USD/ticker", {}, at + 1 + i / 10).refusal for i in range(100)
    ]
    assert refused == [None] * 100


def test_kraken_s_call_counter_allows_15_then_falls_by_one_a_second():
    limiter = Limiter("kraken")
    at = MINUTE + 0.0
    answers = [limiter.admit("/0/public/Ticker", {}, at).refusal for _ in range(16)]
    assert answers[:15] == [None] * 15
    assert answers[15] == (200, {"error": ["EAPI:Rate limit exceeded"]})
    assert limiter.admit("/0/public/Ticker", {}, at + 0.5).refusal is not None
    assert limiter.admit("/0/public/Ticker", {}, at + 1).refusal is None
    assert limiter.refused == 2


@pytest.mark.parametrize("body", [b"", b"{}", b'{"limit": 0}', b'{"limit": "9"}', b"[1"])
def test_a_limit_set_must_be_a_whole_number(body):
    status, answer = control(Limiter("kraken"), "PUT", body, MINUTE)
    assert status == 400
    assert "limit" in answer["error"]


def test_limits_over_http_count_refusals_and_reset(venues):
    coinbase = venues["coinbase"]
    assert requests.put(f"{coinbase}/sim/limits", json={"limit": 2}, timeout=5).ok
    try:
        statuses = [
            requests.get(f"{coinbase}/products/BTC-USD/ticker", timeout=5).status_code
            for _ in range(3)
        ]
        assert statuses[:2] == [200, 200]
        assert statuses[2] == 429
        state = requests.get(f"{coinbase}/sim/limits", timeout=5).json()
        assert state["refused"] == 1
        assert state["limit"] == 2
    finally:
        reset = requests.delete(f"{coinbase}/sim/limits", timeout=5).json()
    assert reset == {"venue": "coinbase", "limit": 15, "refused": 0, "banned_until": None}


def test_binance_answers_say_the_weight_used_over_http(venues):
    answer = requests.get(
        f"{venues['binance']}/api/v3/ticker/24hr", params={"symbol": "BTCUSDT"}, timeout=5
    )
    assert answer.status_code == 200
    assert int(answer.headers["X-MBX-USED-WEIGHT-1M"]) >= 2


def test_lifted_limits_refuse_nothing_and_still_count_binance_s_weight():
    limiter = Limiter("binance", enforced=False)
    limiter.reset(limit=4)
    answers = [limiter.admit(TICKER, {}, MINUTE + 1) for _ in range(3)]
    assert [a.refusal for a in answers] == [None] * 3
    assert headers(answers[-1])["X-MBX-USED-WEIGHT-1M"] == "240"
    assert limiter.refused == 0

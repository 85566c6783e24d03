"""A market that moves: a jump, a change of volatility and a venue that follows late, set
through one venue's PUT /sim/market, move the exact truth and every venue's books."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests

from mock_exchange_app.conditions import LEAD_SECONDS, Conditions, Jump


def truth(venues: dict[str, str], symbol: str, at: float | None = None) -> Decimal:
    params = {} if at is None else {"at": str(int(at * 1000))}
    answer = requests.get(f"{venues['coinbase']}/sim/truth/{symbol}", params=params, timeout=5)
    assert answer.status_code == 200, answer.text
    return Decimal(answer.json()["price"])


def change(market: str, **body: object) -> float:
    """Make a change; return the epoch second it takes effect, once it has."""
    answer = requests.put(market, json=body, timeout=5)
    assert answer.status_code == 200, answer.text
    time.sleep(LEAD_SECONDS)
    return time.time()


@pytest.fixture
def market(venues: dict[str, str]) -> Iterator[str]:
    yield f"{venues['binance']}/sim/market"
    requests.delete(f"{venues['binance']}/sim/market", timeout=5).raise_for_status()
    time.sleep(LEAD_SECONDS)


def test_a_jump_moves_its_base_evenly_over_its_seconds():
    jump = Jump("BTC", Decimal(-2), start=100.0, seconds=5.0)
    assert jump.factor(99) == 1
    assert jump.factor(102.5) == pytest.approx(math.sqrt(0.98))
    assert jump.factor(105) == pytest.approx(0.98)
    assert jump.factor(1000) == pytest.approx(0.98)


def test_changes_take_effect_from_their_time():
    conditions = Conditions(((10.0, {"rates": {"USDT": "0.97"}}), (20.0, {"lag": {"kraken": "3"}})))
    assert conditions.rates(9)["USDT"] == 1
    assert conditions.rates(10)["USDT"] == Decimal("0.97")
    assert (conditions.lag("kraken", 19), conditions.lag("kraken", 20)) == (0, 3)
    assert conditions.lag("binance", 30) == 0


def test_a_reset_puts_the_defaults_back_from_its_time_and_keeps_what_came_before():
    depeg, reset = (10.0, {"rates": {"USDT": "0.97"}}), (20.0, {"reset": True})
    lag = (30.0, {"lag": {"kraken": "3"}})
    conditions = Conditions((depeg, reset, lag))
    assert [conditions.rates(t)["USDT"] for t in (9, 19, 20)] == [1, Decimal("0.97"), 1]
    assert (conditions.lag("kraken", 29), conditions.lag("kraken", 30)) == (0, 3)
    assert conditions.shown()["rates"]["USDT"] == "1"
    assert conditions.since_reset() == (reset, lag)


def test_a_reset_sent_to_one_venue_takes_effect_everywhere_at_its_time(venues, market):
    change(market, rates={"USDT": "0.97"})
    before = time.time()
    depegged = truth(venues, "USDTUSD", before)
    answer = requests.delete(market, timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.json()["rates"]["USDT"] == "1"
    # Another venue still quotes the depeg until the reset's time, and tells the truth of a
    # moment before it as it was.
    assert truth(venues, "USDTUSD") == depegged == Decimal("0.97")
    time.sleep(LEAD_SECONDS)
    assert truth(venues, "USDTUSD") == 1
    assert truth(venues, "USDTUSD", before) == depegged


def test_a_jump_moves_the_truth_of_every_market_of_its_base_exactly(venues, market):
    later = time.time() + 30
    quiet = {symbol: truth(venues, symbol, later) for symbol in ("BTCUSDT", "BTCUSD", "ETHUSDT")}
    answer = requests.put(
        market, json={"jump": {"base": "BTC", "percent": -2, "seconds": 5}}, timeout=5
    )
    assert answer.json()["jumps"] == [
        {"base": "BTC", "percent": "-2", "seconds": "5.0", "start": answer.json()["at"]}
    ]
    time.sleep(LEAD_SECONDS)  # by when every venue knows it
    moved = {symbol: truth(venues, symbol, later) for symbol in quiet}
    assert moved["ETHUSDT"] == quiet["ETHUSDT"]
    for symbol in ("BTCUSDT", "BTCUSD"):
        assert moved[symbol] / quiet[symbol] == pytest.approx(Decimal("0.98"), abs=Decimal("1e-7"))


def test_every_venue_follows_a_jump_and_a_lagging_one_follows_late(venues, market):
    change(market, lag={"kraken": 3})
    end = change(market, jump={"base": "BTC", "percent": -10, "seconds": 1}) + 1
    time.sleep(max(0.0, end + 0.5 - time.time()))
    now = time.time()
    coinbase = requests.get(f"{venues['coinbase']}/products/BTC-USD/ticker", timeout=5).json()
    kraken = requests.get(f"{venues['kraken']}/0/public/Ticker?pair=XXBTZUSD", timeout=5).json()
    kraken_price = Decimal(kraken["result"]["XXBTZUSD"]["c"][0])
    assert Decimal(coinbase["price"]) / truth(venues, "BTCUSD", now) == pytest.approx(1, abs=1e-3)
    # Kraken still quotes the market of three seconds ago: before the jump.
    assert kraken_price / truth(venues, "BTCUSD", now - 3) == pytest.approx(1, abs=1e-3)
    assert kraken_price / truth(venues, "BTCUSD", now) > Decimal("1.09")


def test_volatility_scales_the_walk_from_its_change_on(venues, market):
    t1, t2 = time.time() + 60, time.time() + 660
    quiet = math.log(truth(venues, "BTCUSDT", t2) / truth(venues, "BTCUSDT", t1))
    change(market, volatility=3)
    stormy = math.log(truth(venues, "BTCUSDT", t2) / truth(venues, "BTCUSDT", t1))
    assert stormy == pytest.approx(3 * quiet, rel=1e-3, abs=1e-6)
    change(market, volatility=0)
    assert truth(venues, "BTCUSDT", t1) == truth(venues, "BTCUSDT", t2)  # a frozen market

"""How much each usable quote counts in a moving market: a kept quote fades with its age, a
quote far from its peers weighs less, and a move every venue shares costs nobody weight."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregation.aggregate import Origin, Rules, aggregate, recombine
from aggregation.methods import vwap
from aggregation.tests.test_methods import NOW, quote
from aggregation.trust import trusts, weights
from exchanges.quotes import ExchangeError

HALF_LIFE = Decimal(2)
TOLERANCE = Decimal("0.001")  # 10 bps


def kept(price: str, exchange: str, age: float, volume: str = "1"):
    return replace(
        quote(price, volume, exchange),
        timestamp=NOW - timedelta(seconds=age),
        received_at=NOW - timedelta(seconds=age),
        kept_for=ExchangeError("timed out after 2 s", reason="timeout"),
    )


def judged(quotes):
    return trusts(quotes, now=NOW, half_life=HALF_LIFE, tolerance=TOLERANCE)


def test_a_kept_quote_loses_half_its_weight_every_half_life():
    trust = judged([quote("100", exchange="coinbase"), kept("100", "binance", age=4)])
    assert trust[0].factor == 1
    assert trust[0].detail is None
    assert trust[1].factor == Decimal("0.25")
    assert trust[1].detail == "weight x0.25: 4.0 s old"


def test_a_quote_far_from_its_peers_weighs_less_and_says_why():
    quotes = [quote("100"), quote("100.01"), quote("99.99"), quote("100.3", exchange="kraken")]
    trust = judged(quotes)
    assert all(t.factor > Decimal("0.98") and t.detail is None for t in trust[:3])
    # 29.9 bps from the median with a tolerance of 10 bps: about a tenth of its weight.
    assert trust[3].factor == pytest.approx(Decimal("0.1"), abs=Decimal("0.01"))
    assert trust[3].detail.endswith("bps from the median")


@given(st.decimals(min_value="0.5", max_value="2", places=3))
def test_a_move_every_venue_shares_costs_no_quote_any_weight(move):
    quotes = [quote(Decimal(p) * move, exchange=e) for p, e in (("100", "a"), ("100.02", "b"))]
    assert [t.factor for t in judged(quotes)] == [1, 1]


def test_weights_are_volume_times_trust_and_sum_to_one():
    quotes = [quote("100", "3"), kept("100", "binance", age=2, volume="2")]
    shares = weights(quotes, judged(quotes))
    assert shares == [Decimal("0.75"), Decimal("0.25")]  # 3 against 2 x 0.5
    assert sum(shares) == 1


def test_a_kept_quote_from_before_a_jump_barely_holds_the_price_back():
    # The largest venue's last good quote is from before a 2 % drop, 4 s ago.
    fresh = [quote("98", "10", "coinbase"), quote("98.01", "10", "kraken")]
    stale = kept("100", "binance", age=4, volume="60")
    results = [(Origin(q.exchange), q) for q in [*fresh, stale]]
    rules = Rules("vwap", 2, timedelta(seconds=30), Decimal(5), Decimal("0.05"))
    price = aggregate("BTCUSD", results, rules=rules, now=NOW)
    assert vwap([*fresh, stale]) > Decimal("99.4")  # what full weight would give
    assert abs(price.price - Decimal("98.005")) < Decimal("0.01")
    binance = next(source for source in price.sources if source.exchange == "binance")
    assert binance.status == "used"
    assert binance.weight < Decimal("0.01")
    assert binance.detail == (
        "last good quote kept; no new one: timed out after 2 s; "
        "weight x0.00: 4.0 s old, 203.6 bps from the median"
    )


def test_a_price_recomputed_from_its_sources_weighs_them_as_it_did():
    fresh = [quote("98", "10", "coinbase"), quote("98.02", "30", "kraken")]
    results = [(Origin(q.exchange), q) for q in [*fresh, kept("98.1", "binance", age=3)]]
    rules = Rules("vwap", 2, timedelta(seconds=30), Decimal(5), Decimal("0.05"))
    price = aggregate("BTCUSD", results, rules=rules, now=NOW)
    assert abs(recombine(price.used, "vwap") - price.price) < Decimal("1e-9")
    assert recombine(price.used, "vwap") != vwap(price.used)  # the volumes alone


def test_settings_of_zero_turn_the_distance_off_and_give_a_kept_quote_no_weight():
    quotes = [quote("100"), quote("101", exchange="kraken"), kept("100", "coinbase", age=1)]
    trust = trusts(quotes, now=NOW, half_life=Decimal(0), tolerance=Decimal(0))
    assert [t.factor for t in trust] == [1, 1, 0]


def test_kept_quotes_never_make_a_move_the_new_quote_shows_weigh_less():
    # USDT slips 0.5 %, within the outlier band; two venues held back have only their quotes
    # of a second before.
    quotes = [quote("0.995", exchange="bitstamp"), kept("1", "coinbase", 1), kept("1", "kraken", 1)]
    trust = judged(quotes)
    assert trust[0].factor == 1
    assert all(t.factor < Decimal("0.05") for t in trust[1:])

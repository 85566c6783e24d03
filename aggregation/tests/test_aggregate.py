"""aggregate(): from each venue's quote or error to one price, or a failure with reasons."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from aggregation.aggregate import NoQuorum, Origin, Rules, aggregate
from aggregation.tests.test_methods import NOW, quote
from exchanges.quotes import ExchangeError


def rules(method: str) -> Rules:
    return Rules(method, 2, timedelta(seconds=30), Decimal(5), Decimal("0.01"))


@pytest.mark.parametrize(
    ("method", "side"), [("mid", "a bid"), ("best_bid", "a bid"), ("best_ask", "an ask")]
)
def test_a_method_without_its_side_of_the_book_fails_with_reasons(method, side):
    results = [
        (Origin("binance"), quote("100", exchange="binance")),
        (Origin("coinbase"), quote("101", exchange="coinbase")),
        (Origin("kraken"), ExchangeError("timed out after 2 s", reason="timeout")),
    ]
    with pytest.raises(NoQuorum) as raised:
        aggregate("BTCUSDT", results, rules=rules(method), now=NOW)
    assert str(raised.value) == (
        f"{method} found no price for BTCUSDT, as no quote has {side} "
        "(kraken: timed out after 2 s)."
    )
    assert [source.status for source in raised.value.sources] == ["used", "used", "excluded"]


def test_a_method_with_its_side_of_the_book_prices():
    results = [
        (Origin("binance"), quote("100", exchange="binance", bid="99", ask="101")),
        (Origin("coinbase"), quote("101", exchange="coinbase", bid="100", ask="102")),
    ]
    assert aggregate("BTCUSDT", results, rules=rules("mid"), now=NOW).price == Decimal("100.5")

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregation.methods import vwap
from exchanges.quotes import Quote

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def quote(price: str | Decimal, volume: str | Decimal = "1", exchange: str = "binance") -> Quote:
    return Quote(
        exchange=exchange,
        symbol="BTCUSDT",
        price=Decimal(price),
        bid=None,
        ask=None,
        volume=Decimal(volume),
        timestamp=NOW,
        received_at=NOW,
    )


prices = st.decimals(min_value="0.00000001", max_value="1000000", places=8)
volumes = st.decimals(min_value="0.001", max_value="1000000", places=3)
quote_lists = st.lists(st.builds(quote, prices, volumes), min_size=1, max_size=8)


def test_it_weights_each_price_by_its_volume():
    assert vwap([quote("100", "3"), quote("200", "1")]) == Decimal("125")


def test_it_returns_the_price_of_a_single_source():
    assert vwap([quote("67012.34", "12.5")]) == Decimal("67012.34")


def test_it_takes_the_plain_mean_when_no_quote_has_volume():
    assert vwap([quote("100", "0"), quote("110", "0")]) == Decimal("105")


def test_it_refuses_to_average_no_quotes():
    with pytest.raises(ValueError, match="no quotes"):
        vwap([])


@given(quote_lists)
def test_it_lies_between_the_lowest_and_highest_price(quotes: list[Quote]):
    assert min(q.price for q in quotes) <= vwap(quotes) <= max(q.price for q in quotes)


@given(quote_lists, st.randoms())
def test_it_does_not_depend_on_quote_order(quotes: list[Quote], random):
    shuffled = quotes[:]
    random.shuffle(shuffled)
    assert vwap(shuffled) == pytest.approx(vwap(quotes), rel=Decimal("1e-20"))

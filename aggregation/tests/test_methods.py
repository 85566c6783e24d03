from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregation.methods import (
    METHODS,
    best_ask,
    best_bid,
    confidence,
    median,
    median_of,
    mid,
    trimmed_mean,
    volume_weighted_median,
    vwap,
)
from exchanges.quotes import Quote

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def quote(
    price: str | Decimal,
    volume: str | Decimal = "1",
    exchange: str = "binance",
    *,
    bid: str | Decimal | None = None,
    ask: str | Decimal | None = None,
) -> Quote:
    return Quote(
        exchange=exchange,
        symbol="BTCUSDT",
        price=Decimal(price),
        bid=None if bid is None else Decimal(bid),
        ask=None if ask is None else Decimal(ask),
        volume=Decimal(volume),
        timestamp=NOW,
        received_at=NOW,
    )


prices = st.decimals(min_value="0.00000001", max_value="1000000", places=8)
volumes = st.decimals(min_value="0", max_value="1000000", places=3)
# Validation rejects crossed books, so a generated book is a bid at or below its ask.
books = st.lists(prices, min_size=2, max_size=2).map(sorted)


def booked(price: Decimal, volume: Decimal, book: list[Decimal]) -> Quote:
    return quote(price, volume, bid=book[0], ask=book[1])


quotes_with_books = st.builds(booked, prices, volumes, books)
quotes_without_books = st.builds(quote, prices, volumes)
# The first quote has a book so that best_bid, best_ask and mid always have one to use.
quote_lists = st.tuples(
    quotes_with_books,
    st.lists(st.one_of(quotes_with_books, quotes_without_books), max_size=7),
).map(lambda first_and_rest: [first_and_rest[0], *first_and_rest[1]])


def price_range(quotes: list[Quote]) -> tuple[Decimal, Decimal]:
    return min(q.price for q in quotes), max(q.price for q in quotes)


def bid_range(quotes: list[Quote]) -> tuple[Decimal, Decimal]:
    bids = [q.bid for q in quotes if q.bid is not None]
    return min(bids), max(bids)


def ask_range(quotes: list[Quote]) -> tuple[Decimal, Decimal]:
    asks = [q.ask for q in quotes if q.ask is not None]
    return min(asks), max(asks)


def book_range(quotes: list[Quote]) -> tuple[Decimal, Decimal]:
    return bid_range(quotes)[0], ask_range(quotes)[1]


RANGES: dict[str, Callable[[list[Quote]], tuple[Decimal, Decimal]]] = {
    "vwap": price_range,
    "median": price_range,
    "volume_weighted_median": price_range,
    "trimmed_mean": price_range,
    "best_bid": bid_range,
    "best_ask": ask_range,
    "mid": book_range,
}

SINGLE_SOURCE: dict[str, Callable[[Quote], Decimal | None]] = {
    "vwap": lambda q: q.price,
    "median": lambda q: q.price,
    "volume_weighted_median": lambda q: q.price,
    "trimmed_mean": lambda q: q.price,
    "best_bid": lambda q: q.bid,
    "best_ask": lambda q: q.ask,
    "mid": lambda q: (q.bid + q.ask) / 2 if q.bid is not None and q.ask is not None else None,
}

# Summing products in another order may round the 28th digit differently.
EXACT_METHODS = sorted(set(METHODS) - {"vwap"})


def test_it_offers_every_named_method():
    assert sorted(METHODS) == [
        "best_ask",
        "best_bid",
        "median",
        "mid",
        "trimmed_mean",
        "volume_weighted_median",
        "vwap",
    ]


@pytest.mark.parametrize("name", sorted(METHODS))
def test_it_refuses_to_aggregate_no_quotes(name: str):
    with pytest.raises(ValueError, match="no quotes"):
        METHODS[name]([])


@pytest.mark.parametrize("name", sorted(METHODS))
@given(quotes=quote_lists)
def test_it_lies_between_the_lowest_and_highest_value_it_draws_from(name: str, quotes: list[Quote]):
    low, high = RANGES[name](quotes)
    assert low <= METHODS[name](quotes) <= high


@pytest.mark.parametrize("name", EXACT_METHODS)
@given(quotes=quote_lists, random=st.randoms())
def test_it_does_not_depend_on_quote_order(name: str, quotes: list[Quote], random: Random):
    shuffled = quotes[:]
    random.shuffle(shuffled)
    assert METHODS[name](shuffled) == METHODS[name](quotes)


@given(quotes=quote_lists, random=st.randoms())
def test_vwap_does_not_depend_on_quote_order_beyond_rounding(quotes: list[Quote], random: Random):
    shuffled = quotes[:]
    random.shuffle(shuffled)
    assert vwap(shuffled) == pytest.approx(vwap(quotes), rel=Decimal("1e-20"))


@pytest.mark.parametrize("name", sorted(METHODS))
@given(single=quotes_with_books)
def test_it_returns_the_value_of_a_single_source(name: str, single: Quote):
    assert METHODS[name]([single]) == SINGLE_SOURCE[name](single)


def test_it_weights_each_price_by_its_volume():
    assert vwap([quote("100", "3"), quote("200", "1")]) == Decimal("125")


def test_it_returns_the_price_of_a_single_source():
    assert vwap([quote("67012.34", "12.5")]) == Decimal("67012.34")


def test_it_takes_the_plain_mean_when_no_quote_has_volume():
    assert vwap([quote("100", "0"), quote("110", "0")]) == Decimal("105")


def test_it_refuses_to_average_no_quotes():
    with pytest.raises(ValueError, match="vwap of no quotes"):
        vwap([])


def test_the_median_of_an_odd_count_is_the_middle_price():
    assert median([quote("300"), quote("100"), quote("110")]) == Decimal("110")


def test_the_median_of_an_even_count_is_the_mean_of_the_two_middle_prices():
    assert median([quote("300"), quote("100"), quote("110"), quote("120")]) == Decimal("115")


def test_the_median_ignores_volume():
    assert median([quote("100", "1000"), quote("110", "1"), quote("120", "1")]) == Decimal("110")


def test_median_of_refuses_no_values():
    with pytest.raises(ValueError, match="median of no values"):
        median_of([])


def test_the_volume_weighted_median_is_where_half_the_volume_is_reached():
    assert volume_weighted_median([quote("100", "1"), quote("200", "3")]) == Decimal("200")


def test_the_volume_weighted_median_follows_the_bulk_of_the_volume_down():
    quotes = [quote("300", "1"), quote("100", "5"), quote("200", "1")]
    assert volume_weighted_median(quotes) == Decimal("100")


def test_the_volume_weighted_median_on_the_half_volume_boundary_is_the_mean_of_both_prices():
    assert volume_weighted_median([quote("100", "2"), quote("200", "2")]) == Decimal("150")


def test_the_volume_weighted_median_gives_no_weight_to_a_price_without_volume():
    quotes = [quote("100", "1"), quote("120", "0"), quote("200", "1")]
    assert volume_weighted_median(quotes) == Decimal("150")


def test_the_volume_weighted_median_is_the_median_when_no_quote_has_volume():
    quotes = [quote("100", "0"), quote("110", "0"), quote("300", "0")]
    assert volume_weighted_median(quotes) == Decimal("110")


def test_the_volume_weighted_median_refuses_a_negative_volume():
    with pytest.raises(ValueError, match="negative volume"):
        volume_weighted_median([quote("100", "1"), quote("200", "-1")])


def test_the_trimmed_mean_of_five_prices_drops_the_extremes():
    quotes = [quote("1000"), quote("10"), quote("12"), quote("1"), quote("20")]
    assert trimmed_mean(quotes) == Decimal("14")


def test_the_trimmed_mean_of_four_prices_drops_nothing():
    quotes = [quote("100"), quote("102"), quote("104"), quote("1000")]
    assert trimmed_mean(quotes) == Decimal("326.5")


def test_the_trimmed_mean_drops_more_with_a_larger_fraction():
    quotes = [quote("1000"), quote("10"), quote("12"), quote("1"), quote("20")]
    assert trimmed_mean(quotes, fraction=Decimal("0.4")) == Decimal("12")


def test_the_trimmed_mean_with_no_fraction_is_the_plain_mean():
    quotes = [quote("1000"), quote("10"), quote("12"), quote("1"), quote("20")]
    assert trimmed_mean(quotes, fraction=Decimal("0")) == Decimal("208.6")


def test_the_trimmed_mean_refuses_to_drop_half_the_prices_from_each_end():
    with pytest.raises(ValueError, match=r"below 0\.5"):
        trimmed_mean([quote("100"), quote("110")], fraction=Decimal("0.5"))


def test_the_best_bid_is_the_highest_bid_of_the_quotes_that_have_one():
    quotes = [quote("100", bid="99", ask="101"), quote("105"), quote("101", bid="100", ask="102")]
    assert best_bid(quotes) == Decimal("100")


def test_the_best_ask_is_the_lowest_ask_of_the_quotes_that_have_one():
    quotes = [quote("100", bid="99", ask="101"), quote("95"), quote("101", bid="100", ask="102")]
    assert best_ask(quotes) == Decimal("101")


def test_the_mid_is_halfway_between_the_best_bid_and_the_best_ask_across_venues():
    quotes = [quote("100", bid="99", ask="101"), quote("101", bid="100", ask="102")]
    assert mid(quotes) == Decimal("100.5")


def test_the_best_bid_refuses_quotes_without_a_bid():
    with pytest.raises(ValueError, match="no quote has a bid"):
        best_bid([quote("100"), quote("101", ask="102")])


def test_the_best_ask_refuses_quotes_without_an_ask():
    with pytest.raises(ValueError, match="no quote has an ask"):
        best_ask([quote("100"), quote("101", bid="100")])


def test_the_mid_refuses_quotes_without_an_ask():
    with pytest.raises(ValueError, match="no quote has an ask"):
        mid([quote("100", bid="99")])


def test_the_confidence_is_half_the_range_from_the_lowest_bid_to_the_highest_ask():
    quotes = [quote("100", bid="99", ask="101"), quote("100.5", bid="100", ask="102")]
    assert confidence(quotes) == Decimal("1.5")


def test_the_confidence_uses_the_price_of_a_quote_without_a_book():
    quotes = [quote("100", bid="99", ask="101"), quote("103")]
    assert confidence(quotes) == Decimal("2")


def test_the_confidence_of_a_single_source_without_a_book_is_zero():
    assert confidence([quote("100")]) == Decimal("0")


def test_the_confidence_of_a_crossed_book_is_zero_rather_than_negative():
    assert confidence([quote("100", bid="101", ask="99")]) == Decimal("0")


def test_the_confidence_refuses_no_quotes():
    with pytest.raises(ValueError, match="confidence of no quotes"):
        confidence([])


@given(quote_lists)
def test_the_confidence_is_never_negative(quotes: list[Quote]):
    assert confidence(quotes) >= 0


@given(quotes=quote_lists, random=st.randoms())
def test_the_confidence_does_not_depend_on_quote_order(quotes: list[Quote], random: Random):
    shuffled = quotes[:]
    random.shuffle(shuffled)
    assert confidence(shuffled) == confidence(quotes)

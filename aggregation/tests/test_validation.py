from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregation.methods import median_of
from aggregation.validation import Rejection, check_quote, find_outliers
from exchanges.quotes import Quote

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MAX_AGE = timedelta(seconds=30)

SOUND = Quote(
    exchange="binance",
    symbol="BTCUSDT",
    price=Decimal("100"),
    bid=Decimal("99.9"),
    ask=Decimal("100.1"),
    volume=Decimal("5"),
    timestamp=NOW - timedelta(seconds=1),
    received_at=NOW,
)


def checked(**changes: object) -> Rejection | None:
    return check_quote(replace(SOUND, **changes), now=NOW, max_age=MAX_AGE)


def priced(*prices: str) -> list[Quote]:
    return [replace(SOUND, price=Decimal(price)) for price in prices]


def test_it_accepts_a_sound_quote():
    assert checked() is None


def test_it_accepts_a_quote_without_a_book():
    assert checked(bid=None, ask=None) is None


@pytest.mark.parametrize(
    ("field", "value", "detail"),
    [
        ("price", "0", "price is 0; it must be positive"),
        ("price", "-5", "price is -5; it must be positive"),
        ("price", "NaN", "price is NaN; it must be a finite number"),
        ("price", "Infinity", "price is Infinity; it must be a finite number"),
        (
            "price",
            "1e15",
            "price is 1,000,000,000,000,000; it must be below 1,000,000,000,000,000",
        ),
        ("bid", "NaN", "bid is NaN; it must be a finite number"),
        ("bid", "0", "bid is 0; it must be positive"),
        ("ask", "-1", "ask is -1; it must be positive"),
        ("ask", "-Infinity", "ask is -Infinity; it must be a finite number"),
    ],
)
def test_it_rejects_an_invalid_price_with_its_detail(field: str, value: str, detail: str):
    assert checked(**{field: Decimal(value)}) == Rejection("invalid_price", detail)


def test_it_accepts_a_price_just_below_the_absurd_limit():
    assert checked(price=Decimal("999999999999999.99")) is None


def test_it_rejects_a_crossed_book():
    assert checked(bid=Decimal("100.2"), ask=Decimal("100.1")) == Rejection(
        "crossed_book", "bid 100.2 is above ask 100.1"
    )


def test_it_accepts_a_locked_book_where_the_bid_equals_the_ask():
    assert checked(bid=Decimal("100"), ask=Decimal("100")) is None


@pytest.mark.parametrize(
    ("volume", "detail"),
    [
        ("0", "volume is 0; it must be positive"),
        ("-1", "volume is -1; it must be positive"),
        ("NaN", "volume is NaN; it must be positive"),
    ],
)
def test_it_rejects_a_quote_without_volume_with_its_detail(volume: str, detail: str):
    assert checked(volume=Decimal(volume)) == Rejection("no_volume", detail)


def test_it_accepts_the_smallest_volume():
    assert checked(volume=Decimal("0.00000001")) is None


def test_it_rejects_a_stale_quote_with_its_age_and_the_limit():
    assert checked(timestamp=NOW - timedelta(seconds=45)) == Rejection(
        "stale", "quote is 45 s old; the limit is 30 s"
    )


def test_it_accepts_a_quote_exactly_max_age_old():
    assert checked(timestamp=NOW - MAX_AGE) is None


def test_it_rejects_a_quote_a_millisecond_older_than_max_age():
    assert checked(timestamp=NOW - MAX_AGE - timedelta(milliseconds=1)) == Rejection(
        "stale", "quote is 30.001 s old; the limit is 30 s"
    )


def test_it_judges_age_by_the_venue_time_not_the_time_of_receipt():
    assert checked(received_at=NOW - timedelta(minutes=5)) is None


def test_it_reports_an_invalid_price_before_a_crossed_book():
    rejection = checked(price=Decimal("0"), bid=Decimal("101"), ask=Decimal("100"))
    assert rejection == Rejection("invalid_price", "price is 0; it must be positive")


def test_it_reports_a_crossed_book_before_missing_volume():
    rejection = checked(bid=Decimal("101"), ask=Decimal("100"), volume=Decimal("0"))
    assert rejection == Rejection("crossed_book", "bid 101 is above ask 100")


def test_it_reports_missing_volume_before_staleness():
    rejection = checked(volume=Decimal("0"), timestamp=NOW - timedelta(minutes=1))
    assert rejection == Rejection("no_volume", "volume is 0; it must be positive")


def test_it_keeps_a_price_just_inside_the_mad_limit():
    outliers = find_outliers(
        priced("99", "99", "100", "101", "103"), mad_k=Decimal("3"), band=Decimal("0.01")
    )
    assert outliers == [None, None, None, None, None]


def test_it_excludes_a_price_just_outside_the_mad_limit_with_its_reason():
    outliers = find_outliers(
        priced("99", "99", "100", "101", "103.01"), mad_k=Decimal("3"), band=Decimal("0.01")
    )
    assert outliers == [
        None,
        None,
        None,
        None,
        Rejection("outlier", "103.01 is 3.01 % from the median 100; the limit is 3.00 %"),
    ]


def test_it_keeps_a_price_just_inside_the_band():
    outliers = find_outliers(
        priced("100", "100", "100", "100", "105"), mad_k=Decimal("3"), band=Decimal("0.05")
    )
    assert outliers == [None, None, None, None, None]


def test_it_excludes_a_price_just_outside_the_band_with_its_reason():
    outliers = find_outliers(
        priced("100", "100", "100", "100", "105.01"), mad_k=Decimal("3"), band=Decimal("0.05")
    )
    assert outliers == [
        None,
        None,
        None,
        None,
        Rejection("outlier", "105.01 is 5.01 % from the median 100; the limit is 5.00 %"),
    ]


def test_it_reports_outliers_in_the_order_of_the_quotes():
    outliers = find_outliers(
        priced("100", "200", "100", "100"), mad_k=Decimal("3"), band=Decimal("0.05")
    )
    assert outliers == [
        None,
        Rejection("outlier", "200 is 100.00 % from the median 100; the limit is 5.00 %"),
        None,
        None,
    ]


def test_it_ignores_the_mad_with_fewer_than_three_quotes_but_applies_the_band():
    outliers = find_outliers(priced("100", "110"), mad_k=Decimal("3"), band=Decimal("0.01"))
    assert outliers == [
        Rejection("outlier", "100 is 4.76 % from the median 105; the limit is 1.00 %"),
        Rejection("outlier", "110 is 4.76 % from the median 105; the limit is 1.00 %"),
    ]


def test_it_keeps_two_quotes_within_the_band():
    outliers = find_outliers(priced("100", "101"), mad_k=Decimal("3"), band=Decimal("0.01"))
    assert outliers == [None, None]


def test_it_finds_no_outliers_among_no_quotes():
    assert find_outliers([], mad_k=Decimal("3"), band=Decimal("0.01")) == []


def test_it_refuses_a_median_price_that_is_not_positive():
    with pytest.raises(ValueError, match="positive median price"):
        find_outliers(priced("0", "0", "1"), mad_k=Decimal("3"), band=Decimal("0.01"))


prices = st.decimals(min_value="0.00000001", max_value="1000000", places=8)
mad_ks = st.decimals(min_value="0", max_value="10", places=2)
bands = st.decimals(min_value="0", max_value="1", places=4)
odd_price_lists = st.integers(min_value=0, max_value=4).flatmap(
    lambda half: st.lists(prices, min_size=2 * half + 1, max_size=2 * half + 1)
)


@given(st.lists(prices, max_size=9), mad_ks, bands)
def test_it_returns_one_entry_per_quote(quote_prices: list[Decimal], mad_k: Decimal, band: Decimal):
    quotes = [replace(SOUND, price=price) for price in quote_prices]
    assert len(find_outliers(quotes, mad_k=mad_k, band=band)) == len(quotes)


@given(odd_price_lists, mad_ks, bands)
def test_it_never_flags_the_median_of_an_odd_count(
    quote_prices: list[Decimal], mad_k: Decimal, band: Decimal
):
    quotes = [replace(SOUND, price=price) for price in quote_prices]
    outliers = find_outliers(quotes, mad_k=mad_k, band=band)
    center = median_of(quote_prices)
    assert [o for q, o in zip(quotes, outliers, strict=True) if q.price == center] == [
        None for price in quote_prices if price == center
    ]

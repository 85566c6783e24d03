"""Venue numbers are rounded to what PriceHub and DynamoDB keep: 18 decimals, 38 digits."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchanges.adapters import get_adapter
from exchanges.adapters.fields import normalised
from exchanges.quotes import ExchangeError, Quote

RECEIVED_AT = datetime(2026, 11, 25, 3, 54, 30, tzinfo=UTC)


def coinbase(**fields: str) -> bytes:
    """Return a Coinbase ticker with the given fields replaced."""
    ticker = {
        "ask": "97320.01",
        "bid": "97319.99",
        "volume": "312.84519263",
        "price": "97320.00",
        "time": "2026-11-25T03:54:28.123456Z",
        **fields,
    }
    return ("{" + ",".join(f'"{k}":"{v}"' for k, v in ticker.items()) + "}").encode()


def parse(body: bytes) -> Quote:
    return get_adapter("coinbase").parse(
        200, body, exchange="coinbase", symbol="BTCUSDT", received_at=RECEIVED_AT
    )


def digits(value: Decimal) -> int:
    return len(value.as_tuple().digits)


def test_it_rounds_a_volume_of_40_significant_digits_to_18_decimal_places():
    volume = parse(coinbase(volume="5.000000000000000000000000000000000000001")).volume
    assert volume == Decimal(5)
    assert (volume.as_tuple().exponent, digits(volume)) == (-18, 19)


def test_it_rounds_a_volume_of_1e_minus_999_to_zero_at_18_decimal_places():
    volume = parse(coinbase(volume="1e-999")).volume
    assert volume == 0
    assert volume.as_tuple().exponent == -18


def test_it_refuses_a_price_of_1e_minus_999_as_it_rounds_to_zero():
    with pytest.raises(ExchangeError, match="field 'price' is not a positive number"):
        parse(coinbase(price="1e-999"))


def test_it_refuses_a_bid_below_half_of_the_18th_decimal():
    with pytest.raises(ExchangeError, match="field 'bid' is not a positive number"):
        parse(coinbase(bid="0.0000000000000000004"))


def test_it_keeps_a_tiny_price_that_rounds_to_the_18th_decimal():
    assert parse(coinbase(price="0.0000000000000000006")).price == Decimal("1E-18")


def test_it_leaves_an_ordinary_amount_exactly_as_sent():
    assert str(parse(coinbase(price="97320.00")).price) == "97320.00"


def test_it_still_refuses_a_huge_number_instead_of_rounding_it():
    with pytest.raises(ExchangeError, match="field 'volume' is not a non-negative number"):
        parse(coinbase(volume="1e999"))


@given(st.decimals(min_value=0, max_value=Decimal("1e20") - 1, allow_nan=False))
def test_it_keeps_every_amount_below_1e20_within_dynamodb_s_limits(value):
    rounded = normalised(value)
    assert rounded.as_tuple().exponent >= -18
    assert digits(rounded) <= 38
    assert abs(rounded - value) <= Decimal("5e-19")

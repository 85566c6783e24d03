"""Pure: which markets an asset may use, and the rate that brings their prices into its
currency, or why there is none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from aggregation.conversion import Conversion, Rate, Unconvertible, convert, usable

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
CURRENCIES = ("USDT", "USDC", "EUR")
RATES = {
    "USDT": Rate(Decimal("0.97"), NOW - timedelta(seconds=2)),
    "USDC": Rate(Decimal("1.0001"), NOW - timedelta(seconds=1)),
}


@pytest.mark.parametrize(
    ("base", "quote", "pricing", "expected"),
    [
        ("BTC", "USD", "USD", True),
        ("BTC", "USDT", "USD", True),
        ("BTC", "USD", "USDT", True),
        ("BTC", "EUR", "USD", True),
        ("BTC", "GBP", "USD", False),  # not a currency PriceHub converts through
        ("USDT", "USD", "USD", True),
        ("USDT", "USDC", "USD", False),  # USDT's rate rests on USD books alone
        ("USDC", "USDT", "USD", True),
        ("USDC", "EUR", "USD", False),  # another rate's books: only USD and USDT ones
    ],
)
def test_which_markets_an_asset_may_use(base, quote, pricing, expected):
    assert usable(base, quote, pricing, CURRENCIES) is expected


def test_a_rate_is_the_quote_s_usd_price_over_the_pricing_currency_s():
    ten = timedelta(seconds=10)
    assert convert("USDT", "USD", RATES, now=NOW, max_age=ten) == Conversion(
        Decimal("0.97"), Decimal("2.000")
    )
    usdc_in_usdt = convert("USDC", "USDT", RATES, now=NOW, max_age=ten)
    assert usdc_in_usdt == Conversion(Decimal("1.03103092784"), Decimal("2.000"))


def test_a_missing_or_stale_rate_says_why():
    assert convert("EUR", "USD", RATES, now=NOW, max_age=timedelta(seconds=10)) == Unconvertible(
        "no EUR/USD rate: EURUSD has no price"
    )
    assert convert("USDT", "USD", RATES, now=NOW, max_age=timedelta(seconds=1)) == Unconvertible(
        "the USDT/USD rate is 2 s old, past 1 s"
    )


def test_a_rate_whose_last_refresh_failed_is_not_used():
    failed = {"USDT": Rate(Decimal(1), NOW - timedelta(seconds=1), failed_at=NOW)}
    assert convert("USDT", "USD", failed, now=NOW, max_age=timedelta(seconds=10)) == Unconvertible(
        "the USDT/USD rate's last refresh had no quorum; USDTUSD's last price is not used"
    )

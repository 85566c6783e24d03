"""Pure: which markets an asset may use, the rate that brings their prices into its currency,
or why there is none, and a round's quotes converted again at the rates it made itself."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from aggregation.aggregate import Origin
from aggregation.collect import at_rates
from aggregation.conversion import Conversion, Rate, Unconvertible, convert, rate_of, usable
from aggregation.models import Asset
from exchanges.quotes import ExchangeError, Quote

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


def test_an_asset_whose_price_is_a_rate_names_its_currency():
    assert rate_of("USDT", "USD", CURRENCIES) == "USDT"
    assert rate_of("USDT", "EUR", CURRENCIES) is None
    assert rate_of("BTC", "USD", CURRENCIES) is None


def converted(venue: str, price: str, rate: str, kept: ExchangeError | None = None) -> tuple:
    origin = Origin(venue, "BTCUSDT", "USDT", Decimal(rate), Decimal(1))
    quote = Quote(venue, "BTCUSD", Decimal(price), None, Decimal("100.2"), Decimal(3), NOW, NOW)
    return origin, replace(quote, kept_for=kept)


def test_a_round_s_quotes_convert_again_at_the_rate_it_has_just_made():
    btcusd = Asset(symbol="BTCUSD", base="BTC", quote="USD")
    usd = (Origin("coinbase", "BTC-USD", "USD"), converted("coinbase", "97", "1")[1])
    timeout = ExchangeError("timed out", reason="timeout")
    kept = converted("kraken", "100", "1", kept=timeout)
    results = [usd, converted("binance", "100", "1"), kept]
    made = {"USDT": Rate(Decimal("0.97"), NOW)}
    again = at_rates(btcusd, results, made, NOW)
    assert (again[0], again[2]) == (usd, kept)  # in USD already; a kept quote as published
    origin, quote = again[1]
    assert (origin.rate, origin.rate_age) == (Decimal("0.97"), Decimal(0))
    assert (quote.price, quote.bid, quote.ask) == (Decimal(97), None, Decimal("97.194"))
    failed = {"USDT": Rate(Decimal("0.97"), NOW, failed_at=NOW)}
    origin, error = at_rates(btcusd, results, failed, NOW)[1]
    assert (error.reason, str(error)) == (
        "no_conversion",
        "the USDT/USD rate's last refresh had no quorum; USDTUSD's last price is not used",
    )

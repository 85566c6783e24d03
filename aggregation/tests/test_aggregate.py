"""aggregate(): from each venue's quote or error to one price, or a failure with reasons."""

from __future__ import annotations

from dataclasses import replace
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


def test_kept_quotes_never_outvote_a_move_the_one_new_quote_shows():
    # USDT slips to 0.97; two venues held back by their limits have only their quotes of before.
    before = ExchangeError("held back to keep within the venue's limit", reason="rate_limited")
    results = [
        (Origin("bitstamp"), quote("0.97", exchange="bitstamp")),
        *(
            (Origin(name), replace(quote("1.0", exchange=name), kept_for=before))
            for name in ("coinbase", "kraken")
        ),
    ]
    with pytest.raises(NoQuorum) as raised:
        aggregate("USDTUSD", results, rules=rules("vwap"), now=NOW)
    sources = {source.exchange: source for source in raised.value.sources}
    assert sources["bitstamp"].status == "used"
    assert sources["coinbase"].reason == sources["kraken"].reason == "outlier"
    assert sources["kraken"].detail == ("1.0 is 3.09 % from the median 0.97; the limit is 1.00 %")


def test_the_trust_defaults_are_the_settings_defaults_and_a_late_venue_counts_little():
    from aggregation.models import Asset

    made = Asset(symbol="BTCUSDT", method="vwap").rules
    assert (made.half_life, made.tolerance) == (rules("vwap").half_life, rules("vwap").tolerance)
    # Six venues around 100, and the largest 6 bps below them, inside the outlier band (a venue
    # 3 s late in a stormy market): it pulls the price less than a third as far as it pulls a
    # plain volume-weighted average (with a tolerance of 5 bps: half as far).
    near = ["99.99", "100", "100.01", "100.02", "99.98", "100"]
    results = [
        *((Origin(f"v{n}"), quote(price, "10", f"v{n}")) for n, price in enumerate(near)),
        (Origin("late"), quote("99.94", "30", "late")),
    ]
    wide = replace(rules("vwap"), mad_k=Decimal(100))
    price = aggregate("BTCUSDT", results, rules=wide, now=NOW).price
    plain = (sum(Decimal(p) * 10 for p in near) + Decimal("99.94") * 30) / 90
    assert Decimal(100) - price < (Decimal(100) - plain) / 3

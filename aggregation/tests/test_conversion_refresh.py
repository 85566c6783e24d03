"""BTCUSD from every venue's BTC markets in USD, USDT and USDC, converted through PriceHub's own
USDTUSD and USDCUSD prices, against the simulated venues' USD truth, pegged and depegged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests

from aggregation import price_cache
from aggregation.aggregate import NoQuorum
from aggregation.models import Asset
from aggregation.services import price_refresh, prices_refresh
from exchanges import catalogue
from exchanges.client import own_timeouts
from exchanges.models import Exchange
from mock_exchange_app.control import clear_faults, reset_market, set_fault, set_market

pytestmark = pytest.mark.usefixtures("stores", "venue_rows")


@pytest.fixture
def usd_assets(venues, venue_rows) -> Iterator[None]:
    for base in ("BTC", "USDT", "USDC"):
        Asset.objects.get_or_create(symbol=f"{base}USD", defaults={"base": base, "quote": "USD"})
    catalogue.sync_all()
    yield
    reset_market(venues["kraken"])


def truth(venues, symbol: str) -> Decimal:
    answer = requests.get(f"{venues['coinbase']}/sim/truth/{symbol}", timeout=5)
    return Decimal(answer.json()["price"])


def refreshed(venues, symbol: str, rates: tuple = ("USDTUSD", "USDCUSD")) -> tuple:
    """Refresh the rates, then symbol; return its price and the truth at its aggregation."""
    for rate in rates:
        price_refresh(symbol=rate)
    price = price_refresh(symbol=symbol)
    at = int(price.aggregated_at.timestamp() * 1000)
    answer = requests.get(f"{venues['coinbase']}/sim/truth/{symbol}?at={at}", timeout=5)
    return price, Decimal(answer.json()["price"])


def bps(price: Decimal, truth: Decimal) -> float:
    return float(abs(price / truth - 1) * 10_000)


# How far one venue's last trade may stray from the truth in the simulator (its offset and
# noise, 6 bps, and half its spread, 2.5), and a second's move more: a price within it converts
# every market the right way round; one taking a currency at par or upside down is hundreds of
# bps away. How close the consensus comes is measured by `manage.py accuracy` and `make bench`.
WITHIN_BPS = 10


def own_rate(code: str) -> Decimal:
    """Return PriceHub's own published USD price of a currency, its rate."""
    return price_cache.latest_price(f"{code}USD").price


@pytest.mark.usefixtures("usd_assets")
def test_btcusd_uses_usd_usdt_and_usdc_markets_each_at_its_rate(venues):
    price, true = refreshed(venues, "BTCUSD")
    used = {(s.exchange, s.market, s.quote): s for s in price.used}
    assert set(used) == {
        ("binance", "BTCUSDT", "USDT"),
        ("binance", "BTCUSDC", "USDC"),
        ("coinbase", "BTC-USD", "USD"),
        ("coinbase", "BTC-USDT", "USDT"),
        ("kraken", "XBTUSDT", "USDT"),
        ("kraken", "XXBTZUSD", "USD"),
        ("okx", "BTC-USDT", "USDT"),
        ("okx", "BTC-USDC", "USDC"),
        ("bybit", "BTCUSDT", "USDT"),
        ("bybit", "BTCUSDC", "USDC"),
        ("bitstamp", "btcusdt", "USDT"),
        ("bitstamp", "btcusdc", "USDC"),
        ("bitstamp", "btcusd", "USD"),
    }
    assert used["coinbase", "BTC-USD", "USD"].rate is None  # in USD already
    rates = {code: own_rate(code) for code in ("USDT", "USDC")}
    assert all(abs(rate - 1) < Decimal("0.001") for rate in rates.values())
    for source in price.used:
        if source.quote != "USD":  # at PriceHub's own rate, just aggregated
            assert abs(source.rate / rates[source.quote] - 1) < Decimal("1e-9"), source
            assert 0 <= source.rate_age < 10
    assert bps(price.price, true) <= WITHIN_BPS


@pytest.mark.usefixtures("usd_assets")
def test_a_usdt_depeg_moves_btcusd_with_it_and_never_takes_usdt_at_par(venues):
    set_market(venues["kraken"], rates={"USDT": "0.97"})
    usdt, _ = refreshed(venues, "USDTUSD")
    assert abs(usdt.price - Decimal("0.97")) < Decimal("0.001")
    price, true = refreshed(venues, "BTCUSD")
    rates = {(s.exchange, s.market): s.rate for s in price.used if s.quote == "USDT"}
    assert len(rates) == 6  # BTC's USDT book on each venue
    assert all(abs(rate / own_rate("USDT") - 1) < Decimal("1e-9") for rate in rates.values())
    assert bps(price.price, true) <= WITHIN_BPS
    par = sum(s.price / s.rate for s in price.used if s.quote == "USDT") / len(rates)
    assert bps(par, true) > 250  # what taking USDT at par would give


@pytest.mark.usefixtures("usd_assets")
def test_a_round_of_an_asset_and_its_rates_converts_at_the_rate_it_has_just_made(venues):
    for rate in ("USDTUSD", "USDCUSD"):
        price_refresh(symbol=rate)  # at par, before the depeg
    set_market(venues["kraken"], rates={"USDT": "0.97"})
    deadline = own_timeouts(list(Exchange.objects.filter(enabled=True)))
    # BTCUSD first: the round makes its rates before it all the same.
    prices_refresh(symbols=["BTCUSD", "USDCUSD", "USDTUSD"], deadline=deadline)
    price = price_cache.latest_price("BTCUSD")
    assert abs(own_rate("USDT") - Decimal("0.97")) < Decimal("0.001")
    converted = [s for s in price.used if s.quote in ("USDT", "USDC")]
    assert len(converted) == 10
    for source in converted:
        assert abs(source.rate / own_rate(source.quote) - 1) < Decimal("1e-9"), source
        assert source.rate_age == 0, source
    at = int(price.aggregated_at.timestamp() * 1000)
    answer = requests.get(f"{venues['coinbase']}/sim/truth/BTCUSD?at={at}", timeout=5)
    assert bps(price.price, Decimal(answer.json()["price"])) <= WITHIN_BPS


@pytest.mark.usefixtures("usd_assets")
def test_a_stale_rate_excludes_the_markets_that_need_it(venues, settings):
    price_refresh(symbol="USDTUSD")
    price_refresh(symbol="USDCUSD")
    settings.PRICEHUB_RATE_MAX_AGE_SECONDS = 0.001
    time.sleep(0.01)
    price = price_refresh(symbol="BTCUSD")
    excluded = {
        (s.exchange, s.market): (s.reason, s.detail)
        for s in price.sources
        if s.status == "excluded"
    }
    # No EURUSD asset, so no EUR rate at all.
    eur = {
        ("binance", "BTCEUR"),
        ("coinbase", "BTC-EUR"),
        ("kraken", "XXBTZEUR"),
        ("okx", "BTC-EUR"),
        ("bitstamp", "btceur"),
    }
    assert (
        set(excluded)
        == {
            ("binance", "BTCUSDT"),
            ("binance", "BTCUSDC"),
            ("coinbase", "BTC-USDT"),
            ("kraken", "XBTUSDT"),
            ("okx", "BTC-USDT"),
            ("okx", "BTC-USDC"),
            ("bybit", "BTCUSDT"),
            ("bybit", "BTCUSDC"),
            ("bitstamp", "btcusdt"),
            ("bitstamp", "btcusdc"),
        }
        | eur
    )
    reason, detail = excluded["kraken", "XBTUSDT"]
    assert reason == "no_conversion"
    assert detail.startswith("the USDT/USD rate is 0 s old, past 0.001 s")
    assert {s.market for s in price.used} == {"BTC-USD", "XXBTZUSD", "btcusd"}


@pytest.mark.usefixtures("usd_assets")
def test_a_rate_whose_last_refresh_had_no_quorum_excludes_the_markets_that_need_it(venues):
    price_refresh(symbol="USDTUSD")
    price_refresh(symbol="USDCUSD")
    for name in ("coinbase", "kraken", "bitstamp"):  # USDT's USD books
        set_fault(venues[name], "USDTUSD", "down")
    try:
        with pytest.raises(NoQuorum):
            price_refresh(symbol="USDTUSD")
        price = price_refresh(symbol="BTCUSD")
    finally:
        for url in venues.values():
            clear_faults(url)
    usdt = [s for s in price.sources if s.quote == "USDT"]
    assert len(usdt) == 6
    assert {(s.status, s.reason) for s in usdt} == {("excluded", "no_conversion")}
    assert usdt[0].detail == (
        "the USDT/USD rate's last refresh had no quorum; USDTUSD's last price is not used; "
        "not asked"
    )
    assert {s.quote for s in price.used} == {"USD", "USDC"}


@pytest.mark.usefixtures("usd_assets")
def test_an_operator_s_eurusd_brings_the_venues_eur_books_in(venues):
    Asset.objects.create(symbol="EURUSD", base="EUR", quote="USD")
    price_refresh(symbol="USDTUSD")
    eur = price_refresh(symbol="EURUSD")
    # From Kraken's and Bitstamp's EUR/USD books and Binance's EUR/USDT one, at PriceHub's
    # USDT rate.
    assert {(s.exchange, s.market, s.quote) for s in eur.used} == {
        ("binance", "EURUSDT", "USDT"),
        ("kraken", "ZEURZUSD", "USD"),
        ("bitstamp", "eurusd", "USD"),
    }
    assert abs(eur.price - truth(venues, "EURUSD")) < Decimal("0.002")
    # The EUR rate refreshed with the others, just before: the euro moves too.
    price, true = refreshed(venues, "BTCUSD", rates=("USDTUSD", "USDCUSD", "EURUSD"))
    euro = {(s.exchange, s.market): s for s in price.used if s.quote == "EUR"}
    assert set(euro) == {
        ("binance", "BTCEUR"),
        ("coinbase", "BTC-EUR"),
        ("kraken", "XXBTZEUR"),
        ("okx", "BTC-EUR"),
        ("bitstamp", "btceur"),
    }
    assert all(s.rate == own_rate("EUR") for s in euro.values())
    assert bps(price.price, true) <= 5  # one sample; the others above average five

"""A refresh asks each venue for the markets its catalogue lists, by the venue's own names,
never for one it lists as halted or does not list."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aggregation.aggregate import NoQuorum
from aggregation.services import price_refresh
from exchanges import catalogue
from exchanges.models import Exchange, Market
from mock_exchange_app import control

pytestmark = pytest.mark.usefixtures("stores", "venue_rows", "seeded_assets")


@pytest.fixture
def catalogues(venues, venue_rows) -> Iterator[None]:
    catalogue.sync_all()
    yield
    for url in venues.values():
        control.clear_faults(url)


@pytest.mark.usefixtures("catalogues")
def test_each_source_is_a_market_of_the_venue_s_catalogue_under_its_name():
    price = price_refresh(symbol="BTCUSDT")
    # Its USDT markets; the others wait for the USDTUSD, USDCUSD and EURUSD rates, not priced
    # here. Binance's BTC-quoted markets are of other bases (ETHBTC), never BTC's.
    assert [(s.exchange, s.market, s.status, s.reason) for s in price.sources] == [
        ("binance", "BTCEUR", "excluded", "no_conversion"),
        ("binance", "BTCUSDC", "excluded", "no_conversion"),
        ("binance", "BTCUSDT", "used", None),
        ("bitstamp", "btceur", "excluded", "no_conversion"),
        ("bitstamp", "btcusd", "excluded", "no_conversion"),
        ("bitstamp", "btcusdc", "excluded", "no_conversion"),
        ("bitstamp", "btcusdt", "used", None),
        ("bybit", "BTCUSDC", "excluded", "no_conversion"),
        ("bybit", "BTCUSDT", "used", None),
        ("coinbase", "BTC-EUR", "excluded", "no_conversion"),
        ("coinbase", "BTC-USD", "excluded", "no_conversion"),
        ("coinbase", "BTC-USDT", "used", None),
        ("kraken", "XBTUSDT", "used", None),
        ("kraken", "XXBTZEUR", "excluded", "no_conversion"),
        ("kraken", "XXBTZUSD", "excluded", "no_conversion"),
        ("okx", "BTC-EUR", "excluded", "no_conversion"),
        ("okx", "BTC-USDC", "excluded", "no_conversion"),
        ("okx", "BTC-USDT", "used", None),
    ]


@pytest.mark.usefixtures("catalogues")
def test_a_halted_market_is_left_out_unasked_and_one_not_listed_is_not_asked(venues):
    Market.objects.filter(exchange__name="kraken", symbol="XBTUSDT").update(
        status="halted", venue_status="cancel_only"
    )
    Market.objects.filter(exchange__name="coinbase", symbol="BTC-USDT").delete()
    # Only these three venues here: the others would make the quorum on their own.
    Exchange.objects.exclude(name__in=["binance", "coinbase", "kraken"]).update(enabled=False)
    # Were they asked, these venues' answers would be errors.
    control.set_fault(venues["kraken"], "BTCUSDT", "down")
    control.set_fault(venues["coinbase"], "BTCUSDT", "down")
    with pytest.raises(NoQuorum) as failed:
        price_refresh(symbol="BTCUSDT")  # one venue left of the quorum's two
    sources = [s for s in failed.value.sources if s.quote == "USDT"]
    assert [(s.exchange, s.market, s.status, s.reason, s.detail) for s in sources] == [
        ("binance", "BTCUSDT", "used", None, None),
        (
            "kraken",
            "XBTUSDT",
            "excluded",
            "halted",
            "kraken lists XBTUSDT as halted (cancel_only); not asked",
        ),
    ]


def test_a_venue_whose_catalogue_is_not_known_is_asked_by_the_usual_name():
    Market.objects.all().delete()
    price = price_refresh(symbol="ETHUSDT")
    assert [(s.exchange, s.market, s.status) for s in price.sources] == [
        ("binance", None, "used"),
        ("bitstamp", None, "used"),
        ("bybit", None, "used"),
        ("coinbase", None, "used"),
        ("kraken", None, "used"),
        ("okx", None, "used"),
    ]


@pytest.mark.usefixtures("catalogues")
def test_a_venue_with_an_empty_side_of_the_book_still_counts_without_that_side(venues):
    control.set_fault(venues["binance"], "BTCUSDT", "empty", side="bid")
    price = price_refresh(symbol="BTCUSDT")
    (binance,) = [s for s in price.sources if s.exchange == "binance" and s.market == "BTCUSDT"]
    assert (binance.status, binance.bid, binance.ask is not None) == ("used", None, True)


@pytest.mark.parametrize(
    ("venue", "market", "word"),
    [
        ("binance", "BTCUSDT", "BREAK"),
        ("coinbase", "BTC-USDT", "online"),
        ("kraken", "XBTUSDT", "cancel_only"),
        ("okx", "BTC-USDT", "suspend"),
        ("bitstamp", "btcusdt", "Disabled"),
    ],
)
def test_a_market_the_venue_halts_is_read_from_its_catalogue_and_left_out(
    venues, venue_rows, venue, market, word
):
    control.set_fault(venues[venue], "BTCUSDT", "halted")
    try:
        catalogue.sync_all()
    finally:
        control.clear_faults(venues[venue])
    halted = Market.objects.get(exchange__name=venue, symbol=market)
    assert (halted.status, halted.venue_status) == ("halted", word)
    assert Market.objects.filter(status="halted").count() == 1
    price = price_refresh(symbol="BTCUSDT")
    left_out = next(s for s in price.sources if (s.exchange, s.market) == (venue, market))
    assert (left_out.status, left_out.reason) == ("excluded", "halted")

"""manage.py venues: check each venue against the simulated ones over HTTP, and point the
venues at the simulated or the public APIs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from exchanges.models import Exchange
from mock_exchange_app import control, currencies, market

pytestmark = pytest.mark.usefixtures("stores", "venue_rows", "seeded_assets")


@pytest.fixture
def kraken_down(venues) -> Iterator[None]:
    control.set_fault(venues["kraken"], "*", "down")
    yield
    control.clear_faults(venues["kraken"])


def test_check_shows_each_catalogue_the_markets_the_first_assets_use_and_a_live_quote(capsys):
    call_command("venues", "check", "--assets", "2")
    out = capsys.readouterr().out
    for venue in market.VENUES:
        listed = len(currencies.listed(venue))
        assert f"{listed} markets listed, {listed} trading" in out.split(f"{venue} (")[1]
    # The first two enabled assets by symbol, each with its markets under the venue's names.
    assert "  ADAUSDT: ADA-USD (trading), ADA-USDT (trading)\n" in out
    assert "  AVAXUSDT: AVAXUSD (trading), AVAXUSDT (trading)\n" in out
    assert "  ADAUSDT: ADAUSDT (trading)\n" in out
    quotes = re.findall(r"  quote of (\S+): (\d+\.\d+) \(bid ", out)
    assert [name for name, _ in quotes] == [
        "ADAUSDT",  # binance
        "adausd",  # bitstamp
        "ADAUSDT",  # bybit
        "ADA-USD",  # coinbase
        "ADAUSD",  # kraken
        "ADA-USDT",  # okx
    ]
    truth = market.true_price("ADAUSDT", datetime.now(UTC))
    assert all(abs(float(price) / float(truth) - 1) < 0.01 for _, price in quotes)


@pytest.mark.usefixtures("kraken_down")
def test_check_fails_naming_a_venue_whose_catalogue_cannot_be_had(capsys):
    with pytest.raises(CommandError, match=r"Venues with trouble: kraken$"):
        call_command("venues", "check")
    assert "kraken (http://127.0.0.1:" in capsys.readouterr().out


def test_use_points_the_venues_at_the_public_apis_and_back(capsys, venues):
    call_command("venues", "use", "public")
    assert dict(Exchange.objects.values_list("name", "base_url")) == {
        "binance": "https://api.binance.com",
        "coinbase": "https://api.exchange.coinbase.com",
        "kraken": "https://api.kraken.com",
        "okx": "https://www.okx.com",
        "bybit": "https://api.bybit.com",
        "bitstamp": "https://www.bitstamp.net",
    }
    assert "kraken: https://api.kraken.com\n" in capsys.readouterr().out
    call_command("venues", "use", "simulated")
    assert Exchange.objects.get(name="binance").base_url == "http://127.0.0.1:8081"

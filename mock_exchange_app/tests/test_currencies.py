"""The simulated market in several quote currencies, over HTTP: every book agrees with one USD
truth at the market-wide rates, which a PUT to any venue changes for all of them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests

from mock_exchange_app import currencies
from mock_exchange_app import market as simulated
from mock_exchange_app.conditions import LEAD_SECONDS
from mock_exchange_app.market import VENUES
from mock_exchange_app.market_change import USAGE


def get(url: str, **params: str) -> dict:
    answer = requests.get(url, params=params, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()


def truth(venues: dict[str, str], symbol: str, venue: str = "kraken", **at: str) -> Decimal:
    return Decimal(get(f"{venues[venue]}/sim/truth/{symbol}", **at)["price"])


@pytest.fixture
def market(venues: dict[str, str]) -> Iterator[str]:
    """The market control of one venue; the defaults back after the test."""
    yield f"{venues['binance']}/sim/market"
    requests.delete(f"{venues['binance']}/sim/market", timeout=5).raise_for_status()


def test_a_usd_book_is_the_usdt_book_at_the_usdt_rate(venues):
    at = {"at": str(int(time.time() * 1000))}
    btc_usdt, btc_usd = truth(venues, "BTCUSDT", **at), truth(venues, "BTCUSD", **at)
    assert btc_usd == btc_usdt  # USDT at 1 USD by default
    coinbase = get(f"{venues['coinbase']}/products/BTC-USD/ticker")
    assert abs(Decimal(coinbase["price"]) / btc_usd - 1) < Decimal("0.001")
    # Kraken answers under its key for its oldest pairs, whichever name it is asked by.
    kraken = get(f"{venues['kraken']}/0/public/Ticker", pair="XBTUSD,USDTZUSD")
    assert sorted(kraken["result"]) == ["USDTZUSD", "XXBTZUSD"]
    assert abs(Decimal(kraken["result"]["USDTZUSD"]["c"][0]) - 1) < Decimal("0.001")


def test_a_depeg_sent_to_one_venue_moves_every_venue_s_books(venues, market):
    before = truth(venues, "BTCUSDT")
    answer = requests.put(market, json={"rates": {"USDT": "0.97"}}, timeout=5)
    assert answer.json()["rates"] == {"USDT": "0.97", "EUR": "1.08"}
    time.sleep(LEAD_SECONDS)  # a change takes effect a moment after it is made
    assert truth(venues, "USDTUSD", "coinbase") == Decimal("0.97")
    btc_usd = truth(venues, "BTCUSD", "coinbase")
    assert abs(btc_usd / before - Decimal("0.97")) < Decimal("0.001")
    kraken = get(f"{venues['kraken']}/0/public/Ticker", pair="XXBTZUSD")["result"]["XXBTZUSD"]
    assert abs(Decimal(kraken["c"][0]) / btc_usd - 1) < Decimal("0.001")
    usdt = get(f"{venues['coinbase']}/products/USDT-USD/ticker")
    assert abs(Decimal(usdt["price"]) - Decimal("0.97")) < Decimal("0.001")
    requests.delete(market, timeout=5).raise_for_status()
    time.sleep(LEAD_SECONDS)
    assert truth(venues, "USDTUSD", "kraken") == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"rates": {"USDC": "0.9"}}, "USDC has no rate of its own; rates: USDT, EUR"),
        ({"rates": {"USDT": "cheap"}}, "USDT: 'cheap' is not a number"),
        ({"rates": {"USDT": "0"}}, "USDT: from 0.01 to 100"),
        ({"rate": {"USDT": "1"}}, USAGE),
        ({"volatility": -1}, "volatility: from 0 to 100"),
        ({"volatility": True}, "volatility: True is not a number"),
        (
            {"jump": {"base": "BTC", "percent": -2}},
            'jump is {"base": "BTC", "percent": -2, "seconds": 5}',
        ),
        ({"jump": {"base": "NOPE", "percent": 1, "seconds": 5}}, "jump: no asset 'NOPE' is listed"),
        (
            {"jump": {"base": "BTC", "percent": "NaN", "seconds": 5}},
            "jump percent: from -50 to 100",
        ),
        ({"lag": {"mtgox": 3}}, f"lag: no venue 'mtgox'; venues: {', '.join(VENUES)}"),
        ({"lag": {"kraken": 61}}, "kraken lag: from 0 to 60"),
    ],
)
def test_a_market_control_it_cannot_take_is_refused_with_why(market, body, error):
    answer = requests.put(market, json=body, timeout=5)
    assert (answer.status_code, answer.json()) == (400, {"error": error})
    assert requests.get(market, timeout=5).json() == {
        "rates": {"USDT": "1", "EUR": "1.08"},
        "volatility": "1",
        "lags": {},
        "jumps": [],
    }


@pytest.fixture
def long_tail(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A market of 400 assets, as SIM_ASSETS=400 makes it."""
    monkeypatch.setattr(simulated, "assets", lambda: simulated.listing(400))
    currencies.listed.cache_clear()
    yield
    currencies.listed.cache_clear()


def test_okx_bybit_and_bitstamp_list_the_most_traded_assets_only(long_tail):
    # Their real spot markets number a few hundred: a long tail's assets are not among them,
    # so their one answer of every ticker stays as large as the real one.
    usdt = {v: [s for s in currencies.listed(v) if s in simulated.assets()] for v in VENUES}
    assert {v: len(symbols) for v, symbols in usdt.items()} == {
        "binance": 400,
        "coinbase": 400,
        "kraken": 400,
        "okx": 300,
        "bybit": 300,
        "bitstamp": 300,
    }
    assert usdt["okx"] == list(simulated.assets())[:300]  # the most traded

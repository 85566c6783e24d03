"""The simulated market's quote currencies beyond each asset's own (USDT): what one unit of each
is worth in USD, and the markets of the venues quoted in them.

USD is the unit. A USDT and a EUR are worth the market-wide rates (1 and 1.08 by default); a
USDC what its USDT market says of it, and a BTC what its own does, in USD. A market quoted in
another currency is its USDT market's book converted at those rates, so that every book agrees
with one USD truth. As on the real venues: Coinbase, Kraken and Bitstamp have a USD book of
each asset and of the stablecoins, and EUR books of BTC, ETH and USDT, as Binance has (with its
EURUSDT); Kraken and Bitstamp trade EUR itself against USD (ZEURZUSD, eurusd); Binance,
Bitstamp, OKX and Bybit have USDC books of BTC and ETH, and Binance BTC books of the other large
assets (ETHBTC); OKX has EUR books of BTC and ETH. Binance, Coinbase and Kraken list each USDT
market, USDCUSDT among them; OKX, Bybit and Bitstamp the 300 most traded.

The rates are the market's conditions (conditions.py): PUT /sim/market with {"rates": {"USDT":
"0.97"}} (a depeg), sent to any venue, moves every venue's books.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from functools import cache

from mock_exchange_app import conditions, market

# Markets beyond the USDT ones, for the assets of the real listing only (not SIM_ASSETS' tail).
# Coinbase and Kraken have a USD book of each asset and of some stablecoins; Binance USDC books.
_STABLE_USD = {"coinbase": ("USDT",), "kraken": ("USDT", "USDC"), "bitstamp": ("USDT", "USDC")}
_USDC_BASES = ("BTC", "ETH")
_EUR_BASES = ("BTC", "ETH", "USDT")
_BTC_BASES = ("ETH", "SOL", "BNB", "XRP", "ADA", "DOGE")  # Binance's ETHBTC, SOLBTC, ...
# OKX, Bybit and Bitstamp list a few hundred spot markets, not every asset of a long tail: with
# SIM_ASSETS they list the most traded ones only, and their one bulk answer keeps a real size.
_SHORT_LISTS = ("okx", "bybit", "bitstamp")
_SHORT_LIST_ASSETS = 300
_STABLE = "USDCUSDT"  # the book a stablecoin's and EUR's own markets are drawn from
_FINE_TICK = Decimal("0.00001")  # a EUR market's price tick, and USDT's in EUR
_SATOSHI = Decimal("0.00000001")  # a BTC-quoted market's price tick


@dataclass(frozen=True, slots=True)
class Derived:
    """A market quoted in another currency than its parent USDT market's."""

    symbol: str  # e.g. BTCUSD
    base: str
    quote: str
    parent: str  # the USDT market whose book it converts, e.g. BTCUSDT
    tick: Decimal | None = None  # its own price tick; else its parent's


def usd(code: str, at: datetime) -> Decimal:
    """Return what one unit of a quote currency is worth in USD at `at`."""
    if code == "USD":
        return Decimal(1)
    if code in ("USDC", "BTC"):
        return market.true_price(f"{code}USDT", at) * usd("USDT", at)
    return conditions.current().rates(at.timestamp())[code]


@cache
def derived() -> Mapping[str, Derived]:
    """Return the markets quoted in another currency than USDT, by symbol."""
    real = market.listing(None)
    found = [
        Derived(f"{a.base}USD", a.base, "USD", a.symbol)
        for a in real.values()
        if a.quote == "USDT" and a.base != "USDC" and a.symbol in market.assets()
    ]
    found += [
        Derived(f"{base}USDC", base, "USDC", f"{base}USDT")
        for base in _USDC_BASES
        if f"{base}USDT" in market.assets()
    ]
    if _STABLE in market.assets():
        found += [Derived(f"{code}USD", code, "USD", _STABLE) for code in ("USDT", "USDC")]
        found += [
            Derived(f"EUR{quote}", "EUR", quote, _STABLE, _FINE_TICK) for quote in ("USD", "USDT")
        ]
        found += [
            _euro(base) for base in _EUR_BASES if base == "USDT" or f"{base}USDT" in market.assets()
        ]
    found += [
        Derived(f"{base}BTC", base, "BTC", f"{base}USDT", _SATOSHI)
        for base in _BTC_BASES
        if f"{base}USDT" in market.assets() and "BTCUSDT" in market.assets()
    ]
    return {d.symbol: d for d in found}


def _euro(base: str) -> Derived:
    # USDT's EUR book is drawn from the stable book, the others' from their USDT ones.
    if base == "USDT":
        return Derived("USDTEUR", "USDT", "EUR", _STABLE, _FINE_TICK)
    return Derived(f"{base}EUR", base, "EUR", f"{base}USDT")


@cache
def listed(venue: str) -> Mapping[str, market.Asset | Derived]:
    """Return every market the venue lists, by symbol: the USDT ones, then the others."""
    usdt = market.assets()
    if venue in _SHORT_LISTS:
        usdt = dict(itertools.islice(usdt.items(), _SHORT_LIST_ASSETS))
    return {**usdt, **{d.symbol: d for d in _venue_derived(venue)}}


def tick_size(symbol: str) -> Decimal:
    """Return any market's price tick: a derived market's is its parent's."""
    d = derived().get(symbol)
    if d is None:
        return market.tick_size(symbol)
    return d.tick or market.tick_size(d.parent)


def truth(symbol: str, at: datetime) -> Decimal:
    """Return the true price of any market's symbol at `at`; raise KeyError when unknown."""
    if symbol in market.assets():
        return market.true_price(symbol, at)
    d = derived()[symbol]
    if d.base in ("USDT", "EUR"):
        worth = usd(d.base, at)
    else:
        worth = market.true_price(d.parent, at) * usd("USDT", at)
    return (worth / usd(d.quote, at)).quantize(tick_size(symbol))


def ticker(venue: str, symbol: str, at: datetime) -> market.Ticker:
    """Return what `venue` quotes for any market's symbol at `at`: a derived market's is its
    parent's book, converted to what its base is worth in its quote."""
    if symbol in market.assets():
        return market.venue_ticker(venue, symbol, at)
    d = derived()[symbol]
    parent = market.venue_ticker(venue, d.parent, at)
    # The parent's price of one base, in USDT, against the truth of it in the quote.
    factor = truth(symbol, at) / market.true_price(d.parent, at)
    return scaled(replace(parent, symbol=symbol), factor)


def scaled(t: market.Ticker, factor: Decimal) -> market.Ticker:
    """Multiply every price by factor on the market's tick, bid down and ask up to keep
    bid < ask."""
    tick = tick_size(t.symbol)

    def price(value: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        return (value * factor).quantize(tick, rounding)

    def stats(s: market.Stats) -> market.Stats:
        return replace(
            s, open=price(s.open), high=price(s.high), low=price(s.low), vwap=price(s.vwap)
        )

    return replace(
        t,
        last=price(t.last),
        bid=price(t.bid, ROUND_FLOOR),
        ask=price(t.ask, ROUND_CEILING),
        rolling=stats(t.rolling),
        today=stats(t.today),
    )


def _venue_derived(venue: str) -> list[Derived]:
    return [d for d in derived().values() if (d.quote, d.base) in _listing(venue, d)]


def _listing(venue: str, d: Derived) -> set[tuple[str, str]]:
    # (quote, base) of the venue's markets beyond USDT that could be d.
    euro = {("EUR", base) for base in _EUR_BASES}
    if venue == "binance":
        # Binance trades EUR itself against USDT (EURUSDT), not USDT against EUR.
        btc = {("BTC", base) for base in _BTC_BASES}
        usdc = {("USDC", base) for base in _USDC_BASES}
        return usdc | btc | (euro - {("EUR", "USDT")}) | {("USDT", "EUR")}
    usdc = {("USDC", base) for base in _USDC_BASES}
    if venue in _STABLE_USD:
        assets = {("USD", d.base)} if d.parent != _STABLE else set()
        fiat = {("USD", "EUR")} if venue in ("kraken", "bitstamp") else set()
        usdc = usdc if venue == "bitstamp" else set()
        return assets | {("USD", code) for code in _STABLE_USD[venue]} | euro | fiat | usdc
    if venue == "okx":
        # OKX quotes in USDT and USDC, and has EUR books of BTC and ETH.
        return usdc | (euro - {("EUR", "USDT")})
    if venue == "bybit":
        return usdc
    return set()

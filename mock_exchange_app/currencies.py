"""The simulated market's quote currencies beyond each asset's own (USDT): what one unit of each
is worth in USD, and the markets of the venues quoted in them.

USD is the unit. A USDT and a EUR are worth the market-wide rates (1 and 1.08 by default); a
USDC what its USDT market says of it, and a BTC what its own does, in USD. A market quoted in
another currency is its USDT market's book converted at those rates, so that every book agrees
with one USD truth. As on the real venues: Coinbase, Kraken and Bitstamp have a USD book of
each asset and of the stablecoins, and EUR books of BTC, ETH and USDT, as Binance has (with its
EURUSDT); Kraken and Bitstamp trade EUR itself against USD (ZEURZUSD, eurusd); Binance,
Bitstamp, OKX and Bybit have USDC books of BTC and ETH, and Binance BTC books of the other large
assets (ETHBTC); OKX has EUR books of BTC and ETH. Every venue lists each USDT market, USDCUSDT
among them.

The market-wide control, PUT /sim/market with {"rates": {"USDT": "0.97"}} (a depeg), sent to
any venue, moves them all: it is kept in one file that every venue process reads,
SIM_MARKET_FILE; DELETE /sim/market puts the default back.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from mock_exchange_app import market

DEFAULT_RATES = {"USDT": Decimal(1), "EUR": Decimal("1.08")}  # USD a unit
_RATE_BOUNDS = (Decimal("0.01"), Decimal(100))
# Markets beyond the USDT ones, for the assets of the real listing only (not SIM_ASSETS' tail).
# Coinbase and Kraken have a USD book of each asset and of some stablecoins; Binance USDC books.
_STABLE_USD = {"coinbase": ("USDT",), "kraken": ("USDT", "USDC"), "bitstamp": ("USDT", "USDC")}
_USDC_BASES = ("BTC", "ETH")
_EUR_BASES = ("BTC", "ETH", "USDT")
_BTC_BASES = ("ETH", "SOL", "BNB", "XRP", "ADA", "DOGE")  # Binance's ETHBTC, SOLBTC, ...
_STABLE = "USDCUSDT"  # the book a stablecoin's and EUR's own markets are drawn from
_FINE_TICK = Decimal("0.00001")  # a EUR market's price tick, and USDT's in EUR
_SATOSHI = Decimal("0.00000001")  # a BTC-quoted market's price tick
_lock = threading.Lock()
_read: tuple[float, dict[str, Decimal]] | None = None  # the file's mtime, and its rates


@dataclass(frozen=True, slots=True)
class Derived:
    """A market quoted in another currency than its parent USDT market's."""

    symbol: str  # e.g. BTCUSD
    base: str
    quote: str
    parent: str  # the USDT market whose book it converts, e.g. BTCUSDT
    tick: Decimal | None = None  # its own price tick; else its parent's


def rates() -> dict[str, Decimal]:
    """Return the market-wide rates, USD a unit, as SIM_MARKET_FILE holds them now."""
    global _read
    path = _file()
    try:
        mtime = path.stat().st_mtime if path else None
    except FileNotFoundError:
        mtime = None
    if mtime is None:
        return dict(DEFAULT_RATES)
    with _lock:
        if _read is None or _read[0] != mtime:
            stored = json.loads(path.read_text())["rates"]
            _read = (mtime, {**DEFAULT_RATES, **{k: Decimal(v) for k, v in stored.items()}})
        return dict(_read[1])


def control(method: str, body: bytes) -> tuple[int, Any]:
    """Answer /sim/market: GET shows the rates, PUT sets some, DELETE puts the defaults back."""
    path = _file()
    if method == "GET":
        return 200, _shown(rates())
    if method not in ("PUT", "DELETE"):
        return 405, {"error": "method not allowed"}
    if path is None:
        return 409, {"error": "SIM_MARKET_FILE is not set: the venues share no market control"}
    if method == "DELETE":
        path.unlink(missing_ok=True)
        return 200, _shown(DEFAULT_RATES)
    try:
        given = _parsed(body)
    except ValueError as error:
        return 400, {"error": str(error)}
    new = {**rates(), **given}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"rates": {k: str(v) for k, v in new.items()}}))
    temporary.replace(path)
    return 200, _shown(new)


def usd(code: str, at: datetime) -> Decimal:
    """Return what one unit of a quote currency is worth in USD at `at`."""
    if code == "USD":
        return Decimal(1)
    if code in ("USDC", "BTC"):
        return market.true_price(f"{code}USDT", at) * usd("USDT", at)
    return rates()[code]


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


def listed(venue: str) -> Mapping[str, market.Asset | Derived]:
    """Return every market the venue lists, by symbol: the USDT ones, then the others."""
    return {**market.assets(), **{d.symbol: d for d in _venue_derived(venue)}}


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


def _file() -> Path | None:
    raw = os.environ.get("SIM_MARKET_FILE")
    return Path(raw) if raw else None


def _parsed(body: bytes) -> dict[str, Decimal]:
    try:
        given = json.loads(body or b"{}")["rates"]
    except (ValueError, KeyError, TypeError):
        raise ValueError('the body is {"rates": {"USDT": "0.97"}}') from None
    if not isinstance(given, dict) or not given:
        raise ValueError("rates maps currencies to USD a unit")
    parsed = {}
    for code, raw in given.items():
        if code not in DEFAULT_RATES:
            raise ValueError(f"{code} has no rate of its own; rates: {', '.join(DEFAULT_RATES)}")
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            raise ValueError(f"{code}: {raw!r} is not a number") from None
        if not _RATE_BOUNDS[0] <= value <= _RATE_BOUNDS[1]:
            raise ValueError(f"{code}: a rate is from {_RATE_BOUNDS[0]} to {_RATE_BOUNDS[1]}")
        parsed[code] = value
    return parsed


def _shown(current: Mapping[str, Decimal]) -> dict[str, Any]:
    return {"rates": {code: str(value) for code, value in current.items()}}

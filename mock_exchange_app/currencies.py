"""The simulated market's quote currencies beyond each asset's own (USDT): what one unit of each
is worth in USD, and the markets of the venues quoted in them.

USD is the unit. A USDT is worth the market-wide rate (1 by default); a USDC what its USDT market
says of it, in USD. A market quoted in another currency (Coinbase's and Kraken's USD books,
Binance's USDC ones, the stablecoins' own USD books) is its USDT market's book converted at
those rates, so that every book agrees with one USD truth.

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

DEFAULT_RATES = {"USDT": Decimal(1)}  # USD a unit
_RATE_BOUNDS = (Decimal("0.01"), Decimal(100))
# Markets beyond the USDT ones, for the assets of the real listing only (not SIM_ASSETS' tail).
# Coinbase and Kraken have a USD book of each asset and of some stablecoins; Binance USDC books.
_STABLE_USD = {"coinbase": ("USDT",), "kraken": ("USDT", "USDC")}
_USDC_BASES = ("BTC", "ETH")
_lock = threading.Lock()
_read: tuple[float, dict[str, Decimal]] | None = None  # the file's mtime, and its rates


@dataclass(frozen=True, slots=True)
class Derived:
    """A market quoted in another currency than its parent USDT market's."""

    symbol: str  # e.g. BTCUSD
    base: str
    quote: str
    parent: str  # the USDT market whose book it converts, e.g. BTCUSDT


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
    if code == "USDC":
        return market.true_price("USDCUSDT", at) * usd("USDT", at)
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
    if "USDCUSDT" in market.assets():
        found += [Derived(f"{code}USD", code, "USD", "USDCUSDT") for code in ("USDT", "USDC")]
    return {d.symbol: d for d in found}


def listed(venue: str) -> Mapping[str, market.Asset | Derived]:
    """Return every market the venue lists, by symbol: the USDT ones, then the others."""
    return {**market.assets(), **{d.symbol: d for d in _venue_derived(venue)}}


def tick_size(symbol: str) -> Decimal:
    """Return any market's price tick: a derived market's is its parent's."""
    d = derived().get(symbol)
    return market.tick_size(symbol if d is None else d.parent)


def truth(symbol: str, at: datetime) -> Decimal:
    """Return the true price of any market's symbol at `at`; raise KeyError when unknown."""
    if symbol in market.assets():
        return market.true_price(symbol, at)
    d = derived()[symbol]
    worth = (
        usd("USDT", at) if d.base == "USDT" else market.true_price(d.parent, at) * usd("USDT", at)
    )
    return (worth / usd(d.quote, at)).quantize(market.tick_size(d.parent))


def ticker(venue: str, symbol: str, at: datetime) -> market.Ticker:
    """Return what `venue` quotes for any market's symbol at `at`: a derived market's is its
    parent's book, converted to what its base is worth in its quote."""
    if symbol in market.assets():
        return market.venue_ticker(venue, symbol, at)
    d = derived()[symbol]
    parent = market.venue_ticker(venue, d.parent, at)
    # The parent's price of one base, in USDT, against the truth of it in the quote.
    factor = truth(symbol, at) / market.true_price(d.parent, at)
    return replace(scaled(parent, factor), symbol=symbol)


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
    if venue == "binance":
        return {("USDC", base) for base in _USDC_BASES}
    if venue in _STABLE_USD:
        assets = {("USD", d.base)} if d.parent != "USDCUSDT" else set()
        return assets | {("USD", code) for code in _STABLE_USD[venue]}
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

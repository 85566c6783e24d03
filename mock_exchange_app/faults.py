"""Faults a venue can be told to have: down, slow, garbage, stale, outlier, drip, empty or
halted.

They live in the venue process, are off until set, and touch only the venue's own routes
(tickers and catalogues; replies.py applies them). A fault set on a symbol wins over the one
set on "*". Stale, outlier and empty change the market's Ticker (empty: no order on the
`side` of the book, default bid, which the venues then quote as zero, as Binance does);
down, slow, garbage and drip change what goes over the wire:

- down: a 503 with an HTML page, as a load balancer in front of a dead venue sends.
- slow: the reply, after `delay` seconds (default 5).
- garbage: an HTML page with 200, the JSON cut in half, or NaN or wrongly typed prices
  (`kind`: html, truncated, nan or types; default truncated).
- drip: the reply, `rate` bytes a second (default 8), so that no single read waits long.
- halted: the catalogue lists the market as not trading, each venue in its own words (Binance
  status BREAK, Coinbase trading_disabled, Kraken status cancel_only); its ticker still
  answers, as a halted market's does.

A reply that quotes several symbols (Binance's symbols=[...] or all tickers, Kraken's
pair=A,B) is one request: the "*" fault of any symbol in it acts on all of it as above, and
so do a symbol's own slow and drip. A symbol's own down and garbage touch its ticker alone: down
leaves it out of the reply; garbage spoils that one ticker object (html and truncated put
the page, or the ticker's JSON cut in half, in its place as a string).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mock_exchange_app import market
from mock_exchange_app.currencies import derived

Reply = tuple[int, Any]  # HTTP status and a JSON-able body
Quote = Callable[[str], market.Ticker]

ANY_SYMBOL = "*"
_PARAMS = {
    "down": (),
    "slow": ("delay",),
    "garbage": ("kind",),
    "stale": ("age",),
    "outlier": ("factor",),
    "drip": ("rate",),
    "empty": ("side",),
    "halted": (),
}
_KINDS = ("html", "truncated", "nan", "types")
_MAX_DELAY = 60
_MAX_AGE = 30 * 86_400
_MAX_FACTOR = Decimal(1000)  # keeps scaled prices far inside Decimal's 28 digits
_MAX_RATE = 1_000_000  # bytes a second


@dataclass(frozen=True, slots=True)
class Fault:
    mode: str
    since: datetime  # when it was set, UTC
    delay: float = 5  # slow: seconds to wait before answering
    kind: str = "truncated"  # garbage
    age: float = 120  # stale: the market freezes this many seconds before `since`
    factor: Decimal = Decimal("1.05")  # outlier
    rate: float = 8  # drip: bytes a second
    side: str = "bid"  # empty: the side of the book with no order resting on it

    def to_json(self) -> dict[str, Any]:
        """Show the mode, its parameter and when it was set."""
        params = {name: getattr(self, name) for name in _PARAMS[self.mode]}
        return {"mode": self.mode, **params, "since": self.since.isoformat()}


class Faults:
    """Hold one venue's faults, shared by its server threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_symbol: dict[str, Fault] = {}

    def set(self, symbol: str, fault: Fault) -> None:
        """Give `symbol` (or "*" for every symbol) this fault."""
        with self._lock:
            self._by_symbol[symbol] = fault

    def clear(self, symbol: str | None = None) -> None:
        """Clear one symbol's fault, or every fault when no symbol is given."""
        with self._lock:
            if symbol is None:
                self._by_symbol.clear()
            else:
                self._by_symbol.pop(symbol, None)

    def lookup(self, symbol: str) -> Fault | None:
        """Return the fault that applies to `symbol`, if any."""
        with self._lock:
            return self._by_symbol.get(symbol) or self._by_symbol.get(ANY_SYMBOL)

    def halted(self, symbol: str) -> bool:
        """Return whether the catalogue lists `symbol` as halted."""
        fault = self.lookup(symbol)
        return fault is not None and fault.mode == "halted"

    def to_json(self) -> dict[str, Any]:
        """List every fault by the symbol it was set on."""
        with self._lock:
            return {"faults": {s: f.to_json() for s, f in self._by_symbol.items()}}


def control(faults: Faults, method: str, symbol: str | None, body: bytes, now: datetime) -> Reply:
    """Answer /sim/faults: GET lists, PUT sets one symbol's fault, DELETE clears one or all."""
    if method == "GET" and symbol is None:
        return 200, faults.to_json()
    if method == "DELETE":
        faults.clear(symbol)
        return 200, faults.to_json()
    if method != "PUT" or symbol is None:
        return 405, {"error": "method not allowed"}
    if symbol != ANY_SYMBOL and symbol not in market.assets() and symbol not in derived():
        return 404, {"error": "unknown symbol"}
    try:
        fault = parse_fault(body, now)
    except ValueError as error:
        return 400, {"error": str(error)}
    faults.set(symbol, fault)
    return 200, fault.to_json()


def parse_fault(body: bytes, now: datetime) -> Fault:
    """Build a fault from a control request body; raise ValueError saying what is wrong."""
    try:
        spec = json.loads(body)
    except ValueError:
        raise ValueError("body is not JSON") from None
    mode = spec.get("mode") if isinstance(spec, dict) else None
    if not isinstance(mode, str) or mode not in _PARAMS:
        raise ValueError(f"mode must be one of: {', '.join(_PARAMS)}")
    params = {name: value for name, value in spec.items() if name != "mode"}
    if unknown := sorted(set(params) - set(_PARAMS[mode])):
        raise ValueError(f"{mode} takes no {', '.join(unknown)}")
    return Fault(mode, now, **{name: _check(name, value) for name, value in params.items()})


def _check(name: str, value: Any) -> Any:
    """Return a parameter's value if it is valid; raise ValueError saying why not."""
    if name == "side":
        if value not in ("bid", "ask"):
            raise ValueError("side must be bid or ask")
        return value
    if name == "kind":
        if value not in _KINDS:
            raise ValueError(f"kind must be one of: {', '.join(_KINDS)}")
        return value
    if name == "factor":
        return _factor(value)
    if name == "rate":
        return _rate(value)
    limit = _MAX_DELAY if name == "delay" else _MAX_AGE
    # JSON true is a Python int, but no number of seconds.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= limit:
        raise ValueError(f"{name} must be a number of seconds from 0 to {limit}")
    return value


def _rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= _MAX_RATE:
        raise ValueError(f"rate must be a number of bytes a second above 0 and at most {_MAX_RATE}")
    return value


def _factor(value: Any) -> Decimal:
    problem = ValueError(f"factor must be a decimal number above 0 and at most {_MAX_FACTOR}")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise problem
    try:
        # Through str, so the JSON number 1.05 means 1.05 and not its nearest binary float.
        factor = Decimal(str(value))
    except InvalidOperation:
        raise problem from None
    if not (factor.is_finite() and 0 < factor <= _MAX_FACTOR):
        raise problem
    return factor

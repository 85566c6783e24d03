"""Faults a venue can be told to have: down, slow, garbage, stale, outlier or drip.

They live in the venue process, are off until set, and touch only the ticker routes. A fault
set on a symbol wins over the one set on "*". Stale and outlier change the market's Ticker;
down, slow, garbage and drip change what goes over the wire:

- down: a 503 with an HTML page, as a load balancer in front of a dead venue sends.
- slow: the reply, after `delay` seconds (default 5).
- garbage: an HTML page with 200, the JSON cut in half, or NaN or wrongly typed prices
  (`kind`: html, truncated, nan or types; default truncated).
- drip: the reply, `rate` bytes a second (default 8), so that no single read waits long.

A reply that quotes several symbols (Binance's symbols=[...] or all tickers, Kraken's
pair=A,B) is one request: the "*" fault of any symbol in it acts on all of it as above, and
so do a symbol's own slow and drip. A symbol's own down and garbage touch its ticker alone: down
leaves it out of the reply; garbage spoils that one ticker object (html and truncated put
the page, or the ticker's JSON cut in half, in its place as a string).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from mock_exchange_app import market

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
}
_ON_THE_WIRE = frozenset({"down", "slow", "garbage", "drip"})
# Of those, what a symbol's own fault does to a reply of several symbols as a whole.
_HOLDS_UP = frozenset({"slow", "drip"})
_KINDS = ("html", "truncated", "nan", "types")
_MAX_DELAY = 60
_MAX_AGE = 30 * 86_400
_MAX_FACTOR = Decimal(1000)  # keeps scaled prices far inside Decimal's 28 digits
_MAX_RATE = 1_000_000  # bytes a second
_DRIPS_A_SECOND = 10
_DOWN_PAGE = b"<html><body><h1>503 Service Unavailable</h1></body></html>"
_CHALLENGE_PAGE = b"<html><head><title>Just a moment...</title></head><body>Checking</body></html>"
# Where each venue puts last, bid and ask in a ticker object: key, then index into its list.
_PRICE_FIELDS = {
    "binance": (("lastPrice", None), ("bidPrice", None), ("askPrice", None)),
    "coinbase": (("price", None), ("bid", None), ("ask", None)),
    "kraken": (("c", 0), ("b", 0), ("a", 0)),
}
# What each garbage kind puts into those fields, in the same order.
_WRONG: dict[str, tuple[Callable[[str], Any], ...]] = {
    "nan": (lambda _: "NaN",) * 3,
    "types": (float, lambda _: None, lambda _: ["x"]),
}


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    payload: bytes
    content_type: str = "application/json"
    drip: float = 0  # bytes a second; 0 sends the payload at once

    def chunks(self) -> Iterable[bytes]:
        """Return the payload as the server should send it: whole, or a few bytes at a time."""
        return _dripping(self.payload, self.drip) if self.drip else [self.payload]


def _dripping(payload: bytes, rate: float) -> Iterator[bytes]:
    step = max(1, int(rate) // _DRIPS_A_SECOND)
    for start in range(0, len(payload), step):
        if start:
            time.sleep(step / rate)
        yield payload[start : start + step]


def json_response(status: int, body: Any) -> Response:
    """Encode compactly as the venues do, with Decimals as strings as they send prices."""
    return Response(status, json.dumps(body, separators=(",", ":"), default=str).encode())


@dataclass(frozen=True, slots=True)
class Fault:
    mode: str
    since: datetime  # when it was set, UTC
    delay: float = 5  # slow: seconds to wait before answering
    kind: str = "truncated"  # garbage
    age: float = 120  # stale: the market freezes this many seconds before `since`
    factor: Decimal = Decimal("1.05")  # outlier
    rate: float = 8  # drip: bytes a second

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
    if symbol != ANY_SYMBOL and symbol not in market.assets():
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


def serve(faults: Faults, venue: str, now: datetime, render: Callable[[Quote], Reply]) -> Response:
    """Render a ticker route, misbehaving as the faults of the symbols it quotes say."""
    star = faults.lookup(ANY_SYMBOL)
    quoted: list[Fault | None] = []  # in the order the reply lists the tickers

    def quote(symbol: str) -> market.Ticker:
        fault = faults.lookup(symbol)
        quoted.append(fault)
        return _ticker(fault, venue, symbol, now)

    status, body = render(quote)
    # A reply that quotes nothing, like an unknown symbol's error, still obeys the "*" fault.
    whole = quoted or [star]
    if len(quoted) > 1:
        body = _spoil_entries(venue, body, [None if f is star else f for f in quoted])
        whole = [f for f in quoted if f is star or (f is not None and f.mode in _HOLDS_UP)]
    wire = next((f for f in whole if f is not None and f.mode in _ON_THE_WIRE), None)
    return json_response(status, body) if wire is None else _misbehave(wire, venue, status, body)


def _ticker(fault: Fault | None, venue: str, symbol: str, now: datetime) -> market.Ticker:
    if fault is not None and fault.mode == "stale":
        # One fixed moment, so the price and its timestamps are both old and never move.
        return market.venue_ticker(venue, symbol, fault.since - timedelta(seconds=fault.age))
    ticker = market.venue_ticker(venue, symbol, now)
    if fault is not None and fault.mode == "outlier":
        return _scaled(ticker, fault.factor)
    return ticker


def _scaled(t: market.Ticker, factor: Decimal) -> market.Ticker:
    """Multiply every price by factor on the asset's tick, bid down and ask up to keep bid < ask."""
    tick = market.tick_size(t.symbol)

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


def _misbehave(fault: Fault, venue: str, status: int, body: Any) -> Response:
    if fault.mode == "down":
        # What the load balancer in front of a dead venue says: HTML, not the venue's JSON.
        return Response(503, _DOWN_PAGE, "text/html")
    if fault.mode == "slow":
        time.sleep(fault.delay)
        return json_response(status, body)
    if fault.mode == "drip":
        return replace(json_response(status, body), drip=fault.rate)
    if fault.kind == "html":
        return Response(200, _CHALLENGE_PAGE, "text/html")
    if fault.kind == "truncated":
        payload = json_response(status, body).payload
        return Response(200, payload[: len(payload) // 2])
    for ticker in _ticker_objects(venue, body):
        _garble(fault.kind, venue, ticker)
    return json_response(200, body)


def _spoil_entries(venue: str, body: Any, own: list[Fault | None]) -> Any:
    """Apply each symbol's own down or garbage to its ticker alone; own lines up with them."""
    if venue == "kraken":
        entries = zip(body["result"].items(), own, strict=True)
        spoiled = {name: _spoiled(f, venue, ticker) for (name, ticker), f in entries}
        return {**body, "result": {n: t for n, t in spoiled.items() if t is not None}}
    spoiled_list = [_spoiled(f, venue, ticker) for ticker, f in zip(body, own, strict=True)]
    return [ticker for ticker in spoiled_list if ticker is not None]


def _spoiled(fault: Fault | None, venue: str, ticker: dict[str, Any]) -> Any:
    """Return the ticker as its symbol's own fault leaves it, or None to leave it out."""
    if fault is None or fault.mode not in {"down", "garbage"}:
        return ticker
    if fault.mode == "down":
        return None
    if fault.kind == "html":
        return _CHALLENGE_PAGE.decode()
    if fault.kind == "truncated":
        text = json_response(200, ticker).payload.decode()
        return text[: len(text) // 2]
    _garble(fault.kind, venue, ticker)
    return ticker


def _garble(kind: str, venue: str, ticker: dict[str, Any]) -> None:
    """Put wrong values into the price fields of one ticker object."""
    for (key, index), wrong in zip(_PRICE_FIELDS[venue], _WRONG[kind], strict=True):
        if key not in ticker:  # Binance's book ticker has no last price
            continue
        if index is None:
            ticker[key] = wrong(ticker[key])
        else:
            ticker[key][index] = wrong(ticker[key][index])


def _ticker_objects(venue: str, body: Any) -> list[dict[str, Any]]:
    if venue == "kraken":
        tickers = list(body.get("result", {}).values())
    else:
        tickers = body if isinstance(body, list) else [body]
    # A symbol's own garbage may have put a string in place of its ticker already.
    return [ticker for ticker in tickers if isinstance(ticker, dict)]

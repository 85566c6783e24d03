"""A venue's reply, and what the faults set on it (faults.py) do to it on the way out."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from mock_exchange_app import currencies, market
from mock_exchange_app.faults import ANY_SYMBOL, Fault, Faults, Quote, Reply

_ON_THE_WIRE = frozenset({"down", "slow", "garbage", "drip"})
# Of those, what a symbol's own fault does to a reply of several symbols as a whole.
_HOLDS_UP = frozenset({"slow", "drip"})
_DRIPS_A_SECOND = 10
_DOWN_PAGE = b"<html><body><h1>503 Service Unavailable</h1></body></html>"
_CHALLENGE_PAGE = b"<html><head><title>Just a moment...</title></head><body>Checking</body></html>"
# Where each venue puts last, bid and ask in a ticker object: key, then index into its list.
_PRICE_FIELDS = {
    "binance": (("lastPrice", None), ("bidPrice", None), ("askPrice", None)),
    "coinbase": (("price", None), ("bid", None), ("ask", None)),
    "kraken": (("c", 0), ("b", 0), ("a", 0)),
    "okx": (("last", None), ("bidPx", None), ("askPx", None)),
    "bybit": (("lastPrice", None), ("bid1Price", None), ("ask1Price", None)),
    "bitstamp": (("last", None), ("bid", None), ("ask", None)),
}
# Where a venue's reply keeps its list of tickers, when not at its top: a key path.
_LIST_AT = {"okx": ("data",), "bybit": ("result", "list")}
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
    headers: tuple[tuple[str, str], ...] = ()  # beside its type and length

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


def serve(
    faults: Faults, venue: str, now: datetime, render: Callable[[Quote], Reply | Response]
) -> Response:
    """Render a ticker route, misbehaving as the faults of the symbols it quotes say; a route
    that answers a page of its own (Bitstamp's not found) is sent as it is."""
    star = faults.lookup(ANY_SYMBOL)
    quoted: list[Fault | None] = []  # in the order the reply lists the tickers

    def quote(symbol: str) -> market.Ticker:
        fault = faults.lookup(symbol)
        quoted.append(fault)
        return _ticker(fault, venue, symbol, now)

    rendered = render(quote)
    if isinstance(rendered, Response):
        return rendered
    status, body = rendered
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
        return currencies.ticker(venue, symbol, fault.since - timedelta(seconds=fault.age))
    ticker = currencies.ticker(venue, symbol, now)
    if fault is not None and fault.mode == "outlier":
        return currencies.scaled(ticker, fault.factor)
    if fault is not None and fault.mode == "empty":
        nothing = {fault.side: Decimal(0), f"{fault.side}_qty": Decimal(0)}
        return replace(ticker, **nothing)
    return ticker


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
    entries = zip(_ticker_list(venue, body), own, strict=True)
    kept = [t for t in (_spoiled(f, venue, ticker) for ticker, f in entries) if t is not None]
    return _with_list(venue, body, kept)


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
        tickers = _ticker_list(venue, body)
    # A symbol's own garbage may have put a string in place of its ticker already.
    return [ticker for ticker in tickers if isinstance(ticker, dict)]


def _ticker_list(venue: str, body: Any) -> list[Any]:
    """Return the tickers of a reply: the body, a list at its _LIST_AT path, or the body
    alone."""
    found = body
    for key in _LIST_AT.get(venue, ()):
        found = found.get(key, []) if isinstance(found, dict) else []
    return found if isinstance(found, list) else [found]


def _with_list(venue: str, body: Any, tickers: list[Any]) -> Any:
    """Return the reply with its list of tickers replaced."""
    return _replaced(body, _LIST_AT.get(venue, ()), tickers)


def _replaced(node: Any, path: tuple[str, ...], value: Any) -> Any:
    if not path:
        return value
    return {**node, path[0]: _replaced(node[path[0]], path[1:], value)}

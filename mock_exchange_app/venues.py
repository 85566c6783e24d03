"""WSGI apps that speak each venue's public ticker and catalogue formats: Binance's, Coinbase
Exchange's and Kraken's here, OKX's, Bybit's and Bitstamp's in tickers.py (catalogues.py).

Binance and Kraken also answer for several symbols at once, as they do: Binance's
/api/v3/ticker/24hr?symbols=["BTCUSDT","ETHUSDT"] (a JSON array without spaces; one unknown
symbol fails the request with code -1121) and Kraken's /0/public/Ticker?pair=XBTUSDT,ETHUSDT
(one unknown pair fails it with EQuery:Unknown asset pair). Coinbase Exchange has no such form.

Besides each venue's own routes, every app serves the simulator's routes under /sim/:

- GET /sim/truth/{SYMBOL}[?at=<epoch ms>]: the true price now, or at that moment, of any
  market: BTCUSDT, BTCUSD, USDTUSD.
- GET /sim/market: the market's conditions; PUT /sim/market changes them for every venue:
  rates ({"rates": {"USDT": "0.97"}}), volatility, a jump of an asset or a venue's lag;
  DELETE /sim/market puts the defaults back (conditions.py).
- GET /sim/limits: the venue's rate limit and how many calls it refused (limits.py); PUT and
  DELETE set and reset it.
- GET /sim/faults: every fault set; PUT /sim/faults/{SYMBOL or *} with {"mode": ..., ...}
  sets one; DELETE /sim/faults[/{SYMBOL}] clears one or all. See faults.py for the modes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from mock_exchange_app import (
    catalogues,
    conditions,
    currencies,
    faults,
    limits,
    market,
    replies,
    tickers,
)
from mock_exchange_app.faults import Quote, Reply
from mock_exchange_app.replies import Response, json_response
from mock_exchange_app.wire import EPOCH, e8, iso, kraken_key, kraken_name, plain, whole_lots

Query = dict[str, list[str]]
Handler = Callable[[re.Match[str], Query, Quote], Reply]
StartResponse = Callable[[str, list[tuple[str, str]]], object]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_TRUTH = re.compile(r"/sim/truth/(?P<symbol>[^/]+)")
_FAULTS = re.compile(r"/sim/faults(?:/(?P<symbol>[^/]+))?")
_MARKET = "/sim/market"
_LIMITS = "/sim/limits"
_BINANCE_SYMBOLS = re.compile(r'\[("[A-Z0-9_.-]{1,20}"(,"[A-Z0-9_.-]{1,20}")*)?\]')
_BINANCE_ILLEGAL_SYMBOLS = (
    "Illegal characters found in parameter 'symbols'; legal range is "
    """'^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'."""
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    venue: str,
    clock: Callable[[], datetime] = _utc_now,
    *,
    fault_control: bool = True,
    limits_enforced: bool = True,
) -> WSGIApp:
    """Build the WSGI app for one venue of market.VENUES; without fault_control,
    /sim/faults answers 404 and no fault can be set; without limits_enforced, no call is
    refused for the venue's rate limit."""
    if venue not in _ROUTES:
        raise ValueError(f"unknown venue {venue!r}")
    registry = faults.Faults()  # per app, so per venue process: faults are off at start
    limiter = limits.Limiter(venue, enforced=limits_enforced)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        reply = _respond(venue, registry, limiter, environ, clock(), fault_control=fault_control)
        headers = [
            ("Content-Type", reply.content_type),
            ("Content-Length", str(len(reply.payload))),
            *reply.headers,
        ]
        start_response(f"{reply.status} {HTTPStatus(reply.status).phrase}", headers)
        return reply.chunks()

    return app


def _respond(
    venue: str,
    registry: faults.Faults,
    limiter: limits.Limiter,
    environ: dict[str, Any],
    now: datetime,
    *,
    fault_control: bool,
) -> Response:
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "")
    if fault_control and (match := _FAULTS.fullmatch(path)):
        reply = faults.control(registry, method, match["symbol"], _body(environ), now)
        return json_response(*reply)
    if fault_control and path == _MARKET:
        bases = {asset.base for asset in market.assets().values()}
        reply = conditions.control(
            method, _body(environ), now.timestamp(), venues=market.VENUES, bases=bases
        )
        return json_response(*reply)
    if path == _LIMITS and (fault_control or method == "GET"):
        return json_response(*limits.control(limiter, method, _body(environ), now.timestamp()))
    if method != "GET":
        return json_response(405, {"error": "method not allowed"})
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if match := _TRUTH.fullmatch(path):
        return json_response(*_truth(match, query, now))
    for pattern, handler in _ROUTES[venue]:
        if match := pattern.fullmatch(path):
            admission = limiter.admit(path, query, now.timestamp())
            if isinstance(admission.refusal, Response):
                reply = admission.refusal
            elif admission.refusal is not None:
                reply = json_response(*admission.refusal)
            else:
                render = partial(handler, match, query)
                if handler.__module__ == catalogues.__name__:  # it says which are halted
                    render = partial(handler, match, query, halted=registry.halted)
                reply = replies.serve(registry, venue, now, render)
            return replace(reply, headers=reply.headers + admission.headers)
    return json_response(404, {"error": "not found"})


def _body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _truth(match: re.Match[str], query: Query, now: datetime) -> Reply:
    symbol = match["symbol"]
    try:
        at = EPOCH + timedelta(milliseconds=int(query["at"][0])) if "at" in query else now
        price = currencies.truth(symbol, at)
    except KeyError:
        return 404, {"error": "unknown symbol"}
    except (ValueError, OverflowError):
        return 400, {"error": "at must be a time in epoch milliseconds"}
    return 200, {"symbol": symbol, "price": plain(price), "time": iso(at)}


def _binance_24hr(_match: re.Match[str], query: Query, quote: Quote) -> Reply:
    return _binance_each(query, lambda s: _binance_day(quote(s)))


def _binance_book(_match: re.Match[str], query: Query, quote: Quote) -> Reply:
    return _binance_each(query, lambda s: _binance_top(quote(s)))


def _binance_each(query: Query, render: Callable[[str], dict[str, Any]]) -> Reply:
    """Render one symbol, a JSON array of them, or all when none is asked for, as Binance does."""
    if "symbol" in query and "symbols" in query:
        return 400, {"code": -1128, "msg": "Combination of optional parameters invalid."}
    if "symbols" in query:
        return _binance_many(query["symbols"][0], render)
    if "symbol" not in query:
        return 200, [render(s) for s in currencies.listed("binance")]
    symbol = query["symbol"][0]
    if symbol not in currencies.listed("binance"):
        return 400, {"code": -1121, "msg": "Invalid symbol."}
    return 200, render(symbol)


def _binance_many(raw: str, render: Callable[[str], dict[str, Any]]) -> Reply:
    if not _BINANCE_SYMBOLS.fullmatch(raw):
        return 400, {"code": -1100, "msg": _BINANCE_ILLEGAL_SYMBOLS}
    symbols = list(dict.fromkeys(json.loads(raw)))
    if any(symbol not in currencies.listed("binance") for symbol in symbols):
        return 400, {"code": -1121, "msg": "Invalid symbol."}
    return 200, [render(s) for s in symbols]


def _binance_top(t: market.Ticker) -> dict[str, Any]:
    return {
        "symbol": t.symbol,
        "bidPrice": e8(t.bid),
        "bidQty": e8(t.bid_qty),
        "askPrice": e8(t.ask),
        "askQty": e8(t.ask_qty),
    }


def _binance_day(t: market.Ticker) -> dict[str, Any]:
    day = t.rolling
    change = t.last - day.open
    close_ms = (t.time - EPOCH) // timedelta(milliseconds=1)
    top = _binance_top(t)
    return {
        "symbol": t.symbol,
        "priceChange": e8(change),
        "priceChangePercent": f"{change / day.open * 100:.3f}",
        "weightedAvgPrice": e8(day.vwap),
        "prevClosePrice": e8(day.open),
        "lastPrice": e8(t.last),
        "lastQty": e8(t.last_qty),
        **{k: top[k] for k in ("bidPrice", "bidQty", "askPrice", "askQty")},
        "openPrice": e8(day.open),
        "highPrice": e8(day.high),
        "lowPrice": e8(day.low),
        "volume": e8(day.volume),
        "quoteVolume": e8(day.volume * day.vwap),
        "openTime": close_ms - 86_400_000,
        "closeTime": close_ms,
        "firstId": t.last_trade_id - day.trades + 1,
        "lastId": t.last_trade_id,
        "count": day.trades,
    }


def _coinbase_ticker(match: re.Match[str], _query: Query, quote: Quote) -> Reply:
    symbol = _coinbase_products().get(match["product"])
    if symbol is None:
        return 404, {"message": "NotFound"}
    t = quote(symbol)
    return 200, {
        "ask": plain(t.ask),
        "bid": plain(t.bid),
        "volume": plain(t.rolling.volume),
        "trade_id": t.last_trade_id,
        "price": plain(t.last),
        "size": plain(t.last_qty),
        "time": iso(t.time),
    }


@cache
def _coinbase_products() -> Mapping[str, str]:
    return {f"{m.base}-{m.quote}": m.symbol for m in currencies.listed("coinbase").values()}


def _kraken_ticker(_match: re.Match[str], query: Query, quote: Quote) -> Reply:
    requested = query.get("pair", [""])[0]
    if not requested:
        return 200, {"error": ["EGeneral:Invalid arguments"]}
    pairs = _kraken_pairs()
    names = list(dict.fromkeys(requested.split(",")))
    if any(name not in pairs for name in names):
        return 200, {"error": ["EQuery:Unknown asset pair"]}
    # Kraken answers under each pair's key, whichever name it was asked by.
    tickers = {pairs[n][0]: _kraken_fields(quote(pairs[n][1])) for n in names}
    return 200, {"error": [], "result": tickers}


@cache
def _kraken_pairs() -> Mapping[str, tuple[str, str]]:
    """Map the names Kraken takes for a pair (its key XXBTZUSD, its name XBTUSD, and the plain
    symbol BTCUSD) to the pair's key and symbol."""
    pairs = {}
    for m in currencies.listed("kraken").values():
        key = kraken_key(m.symbol, m.base, m.quote)
        for name in (m.symbol, kraken_name(m.base, m.quote), key):
            pairs[name] = (key, m.symbol)
    return pairs


def _kraken_fields(t: market.Ticker) -> dict[str, Any]:
    today, day = t.today, t.rolling
    return {
        "a": [plain(t.ask), whole_lots(t.ask_qty), f"{t.ask_qty:.3f}"],
        "b": [plain(t.bid), whole_lots(t.bid_qty), f"{t.bid_qty:.3f}"],
        "c": [plain(t.last), e8(t.last_qty)],
        "v": [e8(today.volume), e8(day.volume)],
        "p": [plain(today.vwap), plain(day.vwap)],
        "t": [today.trades, day.trades],
        "l": [plain(today.low), plain(day.low)],
        "h": [plain(today.high), plain(day.high)],
        "o": plain(today.open),
    }


_ROUTES: dict[str, list[tuple[re.Pattern[str], Handler]]] = {
    "binance": [
        (re.compile(r"/api/v3/ticker/24hr"), _binance_24hr),
        (re.compile(r"/api/v3/ticker/bookTicker"), _binance_book),
        (re.compile(r"/api/v3/exchangeInfo"), catalogues.binance_exchange_info),
    ],
    "coinbase": [
        (re.compile(r"/products/(?P<product>[^/]+)/ticker"), _coinbase_ticker),
        (re.compile(r"/products"), catalogues.coinbase_products),
    ],
    "kraken": [
        (re.compile(r"/0/public/Ticker"), _kraken_ticker),
        (re.compile(r"/0/public/AssetPairs"), catalogues.kraken_asset_pairs),
    ],
    **tickers.ROUTES,
}

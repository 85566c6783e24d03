"""The tickers of the venues whose bulk form answers every market at once, each in its own
format: OKX's /api/v5/market/ticker?instId=BTC-USDT and /api/v5/market/tickers?instType=SPOT,
Bybit's /v5/market/tickers?category=spot[&symbol=BTCUSDT], Bitstamp's /api/v2/ticker/btcusd/
and /api/v2/ticker/. Each refuses an unlisted market as the venue does: OKX with code 51001,
Bybit with retCode 10001, Bitstamp with a page not found."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from mock_exchange_app import catalogues, currencies, market
from mock_exchange_app.faults import Quote, Reply
from mock_exchange_app.replies import Response
from mock_exchange_app.wire import (
    EPOCH,
    bitstamp_name,
    bybit_error,
    bybit_result,
    e8,
    now_ms,
    okx_name,
    plain,
)

Query = dict[str, list[str]]
_NOT_FOUND_PAGE = b"<!DOCTYPE html><html><head><title>Not Found</title></head><body></body></html>"


@cache
def names(venue: str) -> Mapping[str, str]:
    """Map the venue's name of each market it lists to the market's symbol."""
    name = {"okx": okx_name, "bitstamp": bitstamp_name}.get(venue, lambda b, q: b + q)
    return {name(m.base, m.quote): m.symbol for m in currencies.listed(venue).values()}


def okx_ticker(_match: re.Match[str], query: Query, quote: Quote) -> Reply:
    """Answer GET /api/v5/market/ticker?instId=BTC-USDT."""
    inst = query.get("instId", [""])[0]
    if not inst:
        return 400, {"code": "50014", "msg": "Parameter instId can not be empty", "data": []}
    symbol = names("okx").get(inst)
    if symbol is None:
        return 200, {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    return 200, {"code": "0", "msg": "", "data": [_okx_fields(inst, quote(symbol))]}


def okx_tickers(_match: re.Match[str], query: Query, quote: Quote) -> Reply:
    """Answer GET /api/v5/market/tickers?instType=SPOT: every spot ticker."""
    if query.get("instType", [""])[0] != "SPOT":
        return 400, {"code": "51000", "msg": "Parameter instType error", "data": []}
    data = [_okx_fields(inst, quote(symbol)) for inst, symbol in names("okx").items()]
    return 200, {"code": "0", "msg": "", "data": data}


def _okx_fields(inst: str, t: market.Ticker) -> dict[str, Any]:
    day = t.rolling
    return {
        "instType": "SPOT",
        "instId": inst,
        "last": plain(t.last),
        "lastSz": plain(t.last_qty),
        "askPx": _side(t.ask),
        "askSz": _side(t.ask_qty),
        "bidPx": _side(t.bid),
        "bidSz": _side(t.bid_qty),
        "open24h": plain(day.open),
        "high24h": plain(day.high),
        "low24h": plain(day.low),
        "volCcy24h": plain(day.volume * day.vwap),
        "vol24h": e8(day.volume),
        "ts": str(_ms(t)),
        "sodUtc0": plain(t.today.open),
        "sodUtc8": plain(t.today.open),
    }


def bybit_tickers(_match: re.Match[str], query: Query, quote: Quote) -> Reply:
    """Answer GET /v5/market/tickers?category=spot[&symbol=BTCUSDT]: one, or every ticker."""
    if query.get("category", [""])[0] != "spot":
        return 200, bybit_error(10001, "Illegal category")
    listed = names("bybit")
    if "symbol" in query:
        symbol = query["symbol"][0]
        if symbol not in listed:
            return 200, bybit_error(10001, "Not supported symbols")
        chosen = [symbol]
    else:
        chosen = list(listed)
    quoted = [quote(listed[s]) for s in chosen]
    # The answer's time is the server's: here the moment its tickers were taken at.
    at = max(_ms(t) for t in quoted) if quoted else now_ms()
    result = {"category": "spot", "list": [_bybit_fields(t) for t in quoted]}
    return 200, bybit_result(result, at)


def _bybit_fields(t: market.Ticker) -> dict[str, Any]:
    day = t.rolling
    return {
        "symbol": t.symbol,
        "bid1Price": _side(t.bid),
        "bid1Size": _side(t.bid_qty),
        "ask1Price": _side(t.ask),
        "ask1Size": _side(t.ask_qty),
        "lastPrice": plain(t.last),
        "prevPrice24h": plain(day.open),
        "price24hPcnt": f"{(t.last - day.open) / day.open:.4f}",
        "highPrice24h": plain(day.high),
        "lowPrice24h": plain(day.low),
        "turnover24h": plain(day.volume * day.vwap),
        "volume24h": e8(day.volume),
        # Only markets quoted in USDT or USDC have one; Bybit sends "" for the others.
        "usdIndexPrice": plain(t.last) if t.symbol.endswith(("USDT", "USDC")) else "",
    }


def bitstamp_ticker(match: re.Match[str], _query: Query, quote: Quote) -> Reply | Response:
    """Answer GET /api/v2/ticker/btcusd/; an unlisted market is a page not found."""
    symbol = names("bitstamp").get(match["pair"])
    if symbol is None:
        return Response(404, _NOT_FOUND_PAGE, "text/html")
    return 200, {**_bitstamp_fields(quote(symbol)), "side": "0"}


def bitstamp_tickers(_match: re.Match[str], _query: Query, quote: Quote) -> Reply:
    """Answer GET /api/v2/ticker/: every market's ticker, each naming its pair (BTC/USD)."""
    listed = currencies.listed("bitstamp")
    return 200, [
        {**_bitstamp_fields(quote(symbol)), "pair": f"{m.base}/{m.quote}"}
        for symbol, m in listed.items()
    ]


def _bitstamp_fields(t: market.Ticker) -> dict[str, Any]:
    day = t.rolling
    return {
        "timestamp": str(_ms(t) // 1000),
        "open": plain(t.today.open),
        "high": plain(day.high),
        "low": plain(day.low),
        "last": plain(t.last),
        "volume": e8(day.volume),
        "vwap": plain(day.vwap),
        "bid": plain(t.bid),
        "ask": plain(t.ask),
        "open_24": plain(day.open),
        "percent_change_24": f"{(t.last - day.open) / day.open * 100:.2f}",
    }


def _side(value: Decimal) -> str:
    # OKX and Bybit send an empty string for a side of the book with no order.
    return plain(value) if value else ""


def _ms(t: market.Ticker) -> int:
    return (t.time - EPOCH) // timedelta(milliseconds=1)


# The routes of these venues, beside venues.py's of the others.
ROUTES = {
    "okx": [
        (re.compile(r"/api/v5/market/ticker"), okx_ticker),
        (re.compile(r"/api/v5/market/tickers"), okx_tickers),
        (re.compile(r"/api/v5/public/instruments"), catalogues.okx_instruments),
    ],
    "bybit": [
        (re.compile(r"/v5/market/tickers"), bybit_tickers),
        (re.compile(r"/v5/market/instruments-info"), catalogues.bybit_instruments),
    ],
    "bitstamp": [
        (re.compile(r"/api/v2/ticker/"), bitstamp_tickers),
        (re.compile(r"/api/v2/ticker/(?P<pair>[^/]+)/"), bitstamp_ticker),
        (re.compile(r"/api/v2/markets/"), catalogues.bitstamp_markets),
    ],
}

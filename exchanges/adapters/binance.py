"""Binance spot: GET /api/v3/ticker/24hr?symbol=BTCUSDT, or ?symbols=["BTCUSDT","ETHUSDT"]."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from exchanges.adapters.base import Adapter
from exchanges.adapters.codes import common_code
from exchanges.adapters.fields import epoch_ms_field, join_url, json_object, text_field
from exchanges.limits import Limit
from exchanges.quotes import ExchangeError, Listing, Pair


class BinanceAdapter(Adapter):
    """Read Binance's rolling 24 h ticker."""

    kind = "binance"
    price = ("lastPrice",)
    bid = ("bidPrice",)
    ask = ("askPrice",)
    volume = ("volume",)
    unknown_pair = "Invalid symbol. (code -1121)"
    # About 3 KB of URL; Binance weighs 21 to 100 symbols as 40 and more as 80.
    max_pairs = 100
    # Every symbol with its status: TRADING, or BREAK, HALT, ... when it does not trade.
    catalogue_path = "/api/v3/exchangeInfo"
    # REQUEST_WEIGHT in exchangeInfo's rateLimits: 6000 a minute an address, counted in clock
    # minutes and sent back in X-MBX-USED-WEIGHT-1M. A 429 or 418 (a ban, from 2 minutes to
    # 3 days) comes with Retry-After.
    limit = Limit(6000, 60, "weight")
    catalogue_cost = 20
    refused_seconds = 60.0
    used_header = "X-MBX-USED-WEIGHT-1M"

    def cost(self, pairs: int) -> int:
        """Return the weight of /api/v3/ticker/24hr: 2 for 1 to 20 symbols, 40 for 21 to 100,
        80 for more."""
        return 2 if pairs <= 20 else 40 if pairs <= 100 else 80

    def pair_name(self, base: str, quote: str) -> str:
        """Return Binance's name for the pair, e.g. BTCUSDT."""
        return f"{base}{quote}".upper()

    def name_url(self, base_url: str, name: str) -> str:
        """Return the 24 h ticker URL for the symbol."""
        return join_url(base_url, "/api/v3/ticker/24hr", symbol=name)

    def names_url(self, base_url: str, names: Sequence[str]) -> str:
        """Return the 24 h tickers URL for the symbols, in a JSON array without spaces."""
        symbols = json.dumps(list(names), separators=(",", ":"))
        return join_url(base_url, "/api/v3/ticker/24hr", symbols=symbols)

    def tickers(self, payload: Any, pairs: Sequence[Pair]) -> dict[str, Any]:
        """Return the tickers of the answer's array, matched by their symbol field."""
        if not isinstance(payload, list):
            raise ExchangeError("top level is not a JSON array")
        by_name = {
            entry["symbol"]: entry
            for entry in payload
            if isinstance(entry, dict) and isinstance(entry.get("symbol"), str)
        }
        return {pair.symbol: by_name.get(self.name(pair)) for pair in pairs}

    def catalogue(self, payload: Any) -> Iterable[tuple[str, Any]]:
        """Return the entries of the answer's symbols array."""
        symbols = json_object(payload).get("symbols")
        if not isinstance(symbols, list):
            raise ExchangeError("symbols is not a JSON array")
        return ((str(index), entry) for index, entry in enumerate(symbols))

    def listing(self, key: str, entry: dict[str, Any]) -> Listing:
        """Return the symbol's market: {"symbol": "BTCUSDT", "status": "TRADING", ...}."""
        status = text_field(entry, "status")
        return Listing(
            symbol=text_field(entry, "symbol"),
            base=common_code(text_field(entry, "baseAsset")),
            quote=common_code(text_field(entry, "quoteAsset")),
            trading=status == "TRADING",
            status=status,
        )

    def error_message(self, payload: dict[str, Any]) -> str | None:
        """Return Binance's msg with its numeric code, e.g. Invalid symbol. (code -1121)."""
        message, code = payload.get("msg"), payload.get("code")
        if not isinstance(message, str):
            return None
        return f"{message} (code {code})" if type(code) is int else message

    def timestamp(self, ticker: dict[str, Any], received_at: datetime) -> datetime:
        """Return the close of the 24 h window, which is the ticker's last update."""
        return epoch_ms_field(ticker, "closeTime", received_at=received_at)

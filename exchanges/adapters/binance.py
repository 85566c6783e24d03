"""Binance spot: GET /api/v3/ticker/24hr?symbol=BTCUSDT."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from exchanges.adapters.base import Adapter, epoch_ms_field, join_url


class BinanceAdapter(Adapter):
    """Read Binance's rolling 24 h ticker."""

    kind = "binance"
    price = ("lastPrice",)
    bid = ("bidPrice",)
    ask = ("askPrice",)
    volume = ("volume",)

    def ticker_url(self, base_url: str, base: str, quote: str) -> str:
        """Return the 24 h ticker URL for the pair."""
        return join_url(base_url, "/api/v3/ticker/24hr", symbol=f"{base}{quote}".upper())

    def error_message(self, payload: dict[str, Any]) -> str | None:
        """Return Binance's msg with its numeric code, e.g. Invalid symbol. (code -1121)."""
        message, code = payload.get("msg"), payload.get("code")
        if not isinstance(message, str):
            return None
        return f"{message} (code {code})" if type(code) is int else message

    def timestamp(self, ticker: dict[str, Any], received_at: datetime) -> datetime:
        """Return the close of the 24 h window, which is the ticker's last update."""
        return epoch_ms_field(ticker, "closeTime", received_at=received_at)

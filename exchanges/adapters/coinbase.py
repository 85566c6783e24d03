"""Coinbase Exchange: GET /products/BTC-USDT/ticker."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote as quote_path

from exchanges.adapters.base import Adapter, iso_time_field, join_url


class CoinbaseAdapter(Adapter):
    """Read Coinbase Exchange's product ticker."""

    kind = "coinbase"
    price = ("price",)
    bid = ("bid",)
    ask = ("ask",)
    volume = ("volume",)
    unknown_pair = "NotFound"
    # Coinbase Exchange has no bulk ticker: one request per product, made concurrently.
    max_pairs = 1

    def ticker_url(self, base_url: str, base: str, quote: str) -> str:
        """Return the product ticker URL for the pair."""
        product = quote_path(f"{base}-{quote}".upper(), safe="")
        return join_url(base_url, f"/products/{product}/ticker")

    def error_message(self, payload: dict[str, Any]) -> str | None:
        """Return Coinbase's message, e.g. NotFound."""
        message = payload.get("message")
        return message if isinstance(message, str) else None

    def timestamp(self, ticker: dict[str, Any], received_at: datetime) -> datetime:
        """Return the time of the last trade."""
        return iso_time_field(ticker, "time", received_at=received_at)

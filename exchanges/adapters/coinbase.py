"""Coinbase Exchange: GET /products/BTC-USDT/ticker."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote as quote_path

from exchanges.adapters.base import Adapter
from exchanges.adapters.codes import common_code
from exchanges.adapters.fields import iso_time_field, join_url, text_field
from exchanges.limits import Limit
from exchanges.quotes import ExchangeError, Listing


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
    # Every product with its status (online, delisted, ...) and trading flags.
    catalogue_path = "/products"
    # Public endpoints: 10 requests a second an address, bursts of 15, then 429.
    limit = Limit(10, 1)

    def pair_name(self, base: str, quote: str) -> str:
        """Return Coinbase's product id for the pair, e.g. BTC-USD."""
        return f"{base}-{quote}".upper()

    def name_url(self, base_url: str, name: str) -> str:
        """Return the ticker URL of the product."""
        return join_url(base_url, f"/products/{quote_path(name, safe='')}/ticker")

    def catalogue(self, payload: Any) -> Iterable[tuple[str, Any]]:
        """Return the entries of the answer, an array of products."""
        if not isinstance(payload, list):
            raise ExchangeError("top level is not a JSON array")
        return ((str(index), entry) for index, entry in enumerate(payload))

    def listing(self, key: str, entry: dict[str, Any]) -> Listing:
        """Return the product's market: {"id": "BTC-USD", "status": "online", ...}; it trades
        when online and neither disabled nor cancel-only."""
        status = text_field(entry, "status")
        stopped = entry.get("trading_disabled") is True or entry.get("cancel_only") is True
        return Listing(
            symbol=text_field(entry, "id"),
            base=common_code(text_field(entry, "base_currency")),
            quote=common_code(text_field(entry, "quote_currency")),
            trading=status == "online" and not stopped,
            status=status,
        )

    def error_message(self, payload: dict[str, Any]) -> str | None:
        """Return Coinbase's message, e.g. NotFound."""
        message = payload.get("message")
        return message if isinstance(message, str) else None

    def timestamp(self, ticker: dict[str, Any], received_at: datetime) -> datetime:
        """Return the time of the last trade."""
        return iso_time_field(ticker, "time", received_at=received_at)

"""Bybit spot (API v5): GET /v5/market/tickers?category=spot&symbol=BTCUSDT, or without symbol
every spot ticker at once."""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Any

from exchanges.adapters.base import AllTickersAdapter
from exchanges.adapters.codes import common_code
from exchanges.adapters.fields import join_url, json_object, text_field
from exchanges.limits import Limit
from exchanges.quotes import ExchangeError, Listing


class BybitAdapter(AllTickersAdapter):
    """Read Bybit's spot ticker: {"retCode": 0, "result": {"list": [{"symbol": ...}]}}."""

    kind = "bybit"
    price = ("lastPrice",)
    bid = ("bid1Price",)
    ask = ("ask1Price",)
    volume = ("volume24h",)  # in the base coin; turnover24h is in the quote
    entry_name = "symbol"
    unknown_pair = "Not supported symbols (retCode 10001)"
    # Spot instruments, Trading only: a halted one leaves the list. A page holds 500 by
    # default and 1000 at most, more than Bybit's spot markets.
    catalogue_path = "/v5/market/instruments-info?category=spot&limit=1000"
    # 600 requests per 5 s an address; past it, HTTP 403 "access too frequent", and the
    # address must stop for 10 minutes. retCode 10006 is the per-account limit.
    limit = Limit(600, 5)
    ban_statuses = frozenset({HTTPStatus.FORBIDDEN})
    banned_seconds = 600.0
    rate_limit_errors = frozenset({"Too many visits! (retCode 10006)"})

    def pair_name(self, base: str, quote: str) -> str:
        """Return Bybit's symbol, e.g. BTCUSDT."""
        return f"{base}{quote}".upper()

    def name_url(self, base_url: str, name: str) -> str:
        """Return the spot ticker URL of the symbol."""
        return join_url(base_url, "/v5/market/tickers", category="spot", symbol=name)

    def all_url(self, base_url: str) -> str:
        """Return the URL of every spot ticker."""
        return join_url(base_url, "/v5/market/tickers", category="spot")

    def entries(self, payload: Any) -> list[Any]:
        """Return the answer's result.list."""
        result = json_object(payload).get("result")
        entries = result.get("list") if isinstance(result, dict) else None
        if not isinstance(entries, list):
            raise ExchangeError("result.list is not a JSON array")
        return entries

    def listing(self, key: str, entry: dict[str, Any]) -> Listing:
        """Return the instrument's market: {"symbol": "BTCUSDT", "status": "Trading", ...}."""
        status = text_field(entry, "status")
        return Listing(
            symbol=text_field(entry, "symbol"),
            base=common_code(text_field(entry, "baseCoin")),
            quote=common_code(text_field(entry, "quoteCoin")),
            trading=status == "Trading",
            status=status,
        )

    def error_message(self, payload: dict[str, Any]) -> str | None:
        """Return Bybit's retMsg with its retCode when the retCode is not 0."""
        code, message = payload.get("retCode"), payload.get("retMsg")
        if code == 0 or type(code) is not int or not isinstance(message, str):
            return None
        return f"{message} (retCode {code})"

    def timestamp(self, ticker: dict[str, Any], received_at: datetime) -> None:
        """Return None: a spot ticker carries no time of its own."""
        return None

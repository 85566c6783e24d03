"""OKX spot (API v5): GET /api/v5/market/ticker?instId=BTC-USDT, or every spot ticker at once
from /api/v5/market/tickers?instType=SPOT."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from exchanges.adapters.base import AllTickersAdapter
from exchanges.adapters.codes import common_code
from exchanges.adapters.fields import epoch_text_field, join_url, json_object, text_field
from exchanges.limits import Limit
from exchanges.quotes import ExchangeError, Listing


class OkxAdapter(AllTickersAdapter):
    """Read OKX's 24 h ticker: {"code": "0", "msg": "", "data": [{"instId": ...}]}."""

    kind = "okx"
    price = ("last",)
    bid = ("bidPx",)
    ask = ("askPx",)
    volume = ("vol24h",)  # in the base currency for spot; volCcy24h is in the quote
    entry_name = "instId"
    # Sent with HTTP 200, as every v5 error that is not the caller's limit.
    unknown_pair = "Instrument ID does not exist (code 51001)"
    # Every spot instrument with its state: live, or suspend, preopen, test when it does not
    # trade.
    catalogue_path = "/api/v5/public/instruments?instType=SPOT"
    # 20 requests per 2 s an address for the tickers and the instruments; past it, HTTP 429
    # with code 50011 and no Retry-After: the window is 2 s.
    limit = Limit(20, 2)
    refused_seconds = 2.0

    def pair_name(self, base: str, quote: str) -> str:
        """Return OKX's instrument id, e.g. BTC-USDT."""
        return f"{base}-{quote}".upper()

    def name_url(self, base_url: str, name: str) -> str:
        """Return the ticker URL of the instrument."""
        return join_url(base_url, "/api/v5/market/ticker", instId=name)

    def all_url(self, base_url: str) -> str:
        """Return the URL of every spot ticker."""
        return join_url(base_url, "/api/v5/market/tickers", instType="SPOT")

    def entries(self, payload: Any) -> list[Any]:
        """Return the answer's data array."""
        data = json_object(payload).get("data")
        if not isinstance(data, list):
            raise ExchangeError("data is not a JSON array")
        return data

    def listing(self, key: str, entry: dict[str, Any]) -> Listing:
        """Return the instrument's market: {"instId": "BTC-USDT", "state": "live", ...}."""
        state = text_field(entry, "state")
        return Listing(
            symbol=text_field(entry, "instId"),
            base=common_code(text_field(entry, "baseCcy")),
            quote=common_code(text_field(entry, "quoteCcy")),
            trading=state == "live",
            status=state,
        )

    def error_message(self, payload: dict[str, Any]) -> str | None:
        """Return OKX's msg with its code when the code is not "0"."""
        code, message = payload.get("code"), payload.get("msg")
        if code in (None, "0") or not isinstance(message, str):
            return None
        return f"{message} (code {code})"

    def timestamp(self, ticker: dict[str, Any], received_at: datetime) -> datetime:
        """Return the ticker's time, ts in milliseconds."""
        return epoch_text_field(ticker, "ts", received_at=received_at)

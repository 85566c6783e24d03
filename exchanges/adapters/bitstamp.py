"""Bitstamp: GET /api/v2/ticker/btcusd/, or every market's ticker at once from
/api/v2/ticker/."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote as quote_path

from exchanges.adapters.base import AllTickersAdapter
from exchanges.adapters.codes import common_code
from exchanges.adapters.fields import epoch_text_field, join_url, text_field
from exchanges.limits import Limit
from exchanges.quotes import ExchangeError, Listing


class BitstampAdapter(AllTickersAdapter):
    """Read Bitstamp's 24 h ticker: {"last": ..., "bid": ..., "timestamp": "1710328241"}."""

    kind = "bitstamp"
    price = ("last",)
    bid = ("bid",)
    ask = ("ask",)
    volume = ("volume",)  # in the base currency
    # The bulk answer names each market "BTC/USD"; the rest of the API, btcusd.
    entry_name = "pair"
    # An unlisted market's ticker is a page not found, not an error in words.
    unknown_pair_status = HTTPStatus.NOT_FOUND
    # Every market with its trading state: Enabled, or Disabled when it does not trade.
    catalogue_path = "/api/v2/markets/"
    # 400 requests a second an address, and 10,000 per 10 minutes by default: the second is
    # the one a poller meets. Past it, an error with code 400.002.
    limit = Limit(10_000, 600)
    refused_seconds = 60.0
    rate_limit_errors = frozenset({"Request rejected due to exceeded rate limit. (code 400.002)"})

    def pair_name(self, base: str, quote: str) -> str:
        """Return Bitstamp's market symbol, e.g. btcusd."""
        return f"{base}{quote}".lower()

    def name_url(self, base_url: str, name: str) -> str:
        """Return the ticker URL of the market."""
        return join_url(base_url, f"/api/v2/ticker/{quote_path(name, safe='')}/")

    def all_url(self, base_url: str) -> str:
        """Return the URL of every market's ticker."""
        return join_url(base_url, "/api/v2/ticker/")

    def answer_name(self, name: str) -> str:
        """Return the market symbol of a bulk entry's pair: BTC/USD -> btcusd."""
        return name.replace("/", "").lower()

    def entries(self, payload: Any) -> list[Any]:
        """Return the answer itself: one ticker object, or the bulk answer's array."""
        if isinstance(payload, dict):
            return [payload]
        if not isinstance(payload, list):
            raise ExchangeError("top level is neither a JSON object nor an array")
        return payload

    def catalogue(self, payload: Any) -> Iterable[tuple[str, Any]]:
        """Return the entries of the answer, an array of markets."""
        if not isinstance(payload, list):
            raise ExchangeError("top level is not a JSON array")
        return ((str(index), entry) for index, entry in enumerate(payload))

    def listing(self, key: str, entry: dict[str, Any]) -> Listing:
        """Return the market: {"market_symbol": "btcusd", "trading": "Enabled", ...}."""
        trading = text_field(entry, "trading")
        return Listing(
            symbol=text_field(entry, "market_symbol"),
            base=common_code(text_field(entry, "base_currency")),
            quote=common_code(text_field(entry, "counter_currency")),
            trading=trading == "Enabled",
            status=trading,
        )

    def error_message(self, payload: dict[str, Any]) -> str | None:
        """Return Bitstamp's reason with its code: {"status": "error", "reason": ...}."""
        if payload.get("status") != "error":
            return None
        reason = payload.get("reason")
        if isinstance(reason, dict):  # {"__all__": ["..."]} for a refused order
            reason = "; ".join(str(r) for r in reason.get("__all__", []))
        words = reason if isinstance(reason, str) and reason else "unreadable error"
        code = payload.get("code")
        return f"{words} (code {code})" if isinstance(code, str) else words

    def timestamp(self, ticker: dict[str, Any], received_at: datetime) -> datetime:
        """Return the ticker's time, in whole seconds."""
        return epoch_text_field(ticker, "timestamp", received_at=received_at, per_second=1)

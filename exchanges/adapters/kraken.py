"""Kraken: GET /0/public/Ticker?pair=XBTUSDT."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from exchanges.adapters.base import Adapter, join_url
from exchanges.quotes import ExchangeError

# Kraken keeps its own names for a few assets; every other asset goes by its usual ticker.
KRAKEN_ASSETS = {"BTC": "XBT", "DOGE": "XDG"}


class KrakenAdapter(Adapter):
    """Read Kraken's ticker, whose fields are [value, ...] arrays."""

    kind = "kraken"
    price = ("c", 0)
    bid = ("b", 0)
    ask = ("a", 0)
    volume = ("v", 1)  # v is [today, last 24 hours]

    def ticker_url(self, base_url: str, base: str, quote: str) -> str:
        """Return the ticker URL for the pair, in Kraken's asset names."""
        pair = f"{kraken_asset(base)}{kraken_asset(quote)}"
        return join_url(base_url, "/0/public/Ticker", pair=pair)

    def error_message(self, payload: dict[str, Any]) -> str | None:
        """Return Kraken's error list, which it sends with HTTP 200."""
        errors = payload.get("error")
        if not errors:
            return None
        if isinstance(errors, list):
            return "; ".join(e for e in errors if isinstance(e, str)) or "unreadable error"
        return errors if isinstance(errors, str) else "unreadable error"

    def ticker(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Return the only entry of result, whatever Kraken names the pair."""
        result = payload.get("result")
        if not isinstance(result, dict) or len(result) != 1:
            raise ExchangeError("result is not an object with exactly one pair")
        (ticker,) = result.values()
        if not isinstance(ticker, dict):
            raise ExchangeError("result's pair is not an object")
        return ticker

    def timestamp(self, ticker: dict[str, Any], received_at: datetime) -> None:
        """Return None: Kraken's ticker carries no time."""
        return None


def kraken_asset(asset: str) -> str:
    """Return Kraken's name for the asset."""
    asset = asset.upper()
    return KRAKEN_ASSETS.get(asset, asset)

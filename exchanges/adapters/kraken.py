"""Kraken: GET /0/public/Ticker?pair=XBTUSDT, or ?pair=XBTUSDT,ETHUSDT."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from exchanges.adapters.base import Adapter
from exchanges.adapters.codes import common_code
from exchanges.adapters.fields import join_url, json_object, text_field
from exchanges.limits import Limit
from exchanges.quotes import ExchangeError, Listing, Pair

# Kraken keeps its own names for a few assets; every other asset goes by its usual ticker.
KRAKEN_ASSETS = {"BTC": "XBT", "DOGE": "XDG"}
# Kraken's oldest markets answer under a legacy name that prefixes each three-letter asset,
# fiat with Z and crypto with X: XBTUSD is asked for and answered as XXBTZUSD.
_FIAT = frozenset({"USD", "EUR", "GBP", "CAD", "JPY", "CHF", "AUD"})


class KrakenAdapter(Adapter):
    """Read Kraken's ticker, whose fields are [value, ...] arrays."""

    kind = "kraken"
    price = ("c", 0)
    bid = ("b", 0)
    ask = ("a", 0)
    volume = ("v", 1)  # v is [today, last 24 hours]
    unknown_pair = "EQuery:Unknown asset pair"
    max_pairs = 100  # about 1 KB of URL
    # Every pair under its key (XXBTZUSD), with its asset codes (XXBT, ZUSD) and status.
    catalogue_path = "/0/public/AssetPairs"
    # Public calls: about one a second an address, counted by a call counter that allows a
    # burst of 15 and empties by one a second; past it Kraken answers an error instead.
    limit = Limit(15, 15, "calls")
    refused_seconds = 15.0
    rate_limit_errors = frozenset({"EAPI:Rate limit exceeded", "EGeneral:Too many requests"})

    def pair_name(self, base: str, quote: str) -> str:
        """Return Kraken's name for the pair, in its asset names: XBTUSDT."""
        return kraken_asset(base) + kraken_asset(quote)

    def name_url(self, base_url: str, name: str) -> str:
        """Return the ticker URL for the pair, by its key (XXBTZUSD) or altname (XBTUSD)."""
        return join_url(base_url, "/0/public/Ticker", pair=name)

    def names_url(self, base_url: str, names: Sequence[str]) -> str:
        """Return the ticker URL for the pairs, a comma-separated list."""
        return join_url(base_url, "/0/public/Ticker", pair=",".join(names))

    def error_message(self, payload: dict[str, Any]) -> str | None:
        """Return Kraken's error list, which it sends with HTTP 200."""
        errors = payload.get("error")
        if not errors:
            return None
        if isinstance(errors, list):
            return "; ".join(e for e in errors if isinstance(e, str)) or "unreadable error"
        return errors if isinstance(errors, str) else "unreadable error"

    def catalogue(self, payload: Any) -> Iterable[tuple[str, Any]]:
        """Return the pairs of result by key, but for the dark pools' (XXBTZUSD.d)."""
        result = json_object(payload).get("result")
        if not isinstance(result, dict):
            raise ExchangeError("result is not an object")
        return ((key, entry) for key, entry in result.items() if not key.endswith(".d"))

    def listing(self, key: str, entry: dict[str, Any]) -> Listing:
        """Return the pair's market: "XXBTZUSD": {"base": "XXBT", "status": "online", ...}.
        A pair trades when online; older answers have no status, and list trading pairs."""
        status = entry.get("status", "online")
        if not isinstance(status, str):
            raise ExchangeError("status is not a string")
        return Listing(
            symbol=key,
            base=common_code(text_field(entry, "base")),
            quote=common_code(text_field(entry, "quote")),
            trading=status == "online",
            status=status,
        )

    def ticker(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Return the only entry of result, whatever Kraken names the pair."""
        result = payload.get("result")
        if not isinstance(result, dict) or len(result) != 1:
            raise ExchangeError("result is not an object with exactly one pair")
        (ticker,) = result.values()
        if not isinstance(ticker, dict):
            raise ExchangeError("result's pair is not an object")
        return ticker

    def tickers(self, payload: Any, pairs: Sequence[Pair]) -> dict[str, Any]:
        """Return the entries of result, under the name asked for or Kraken's legacy one."""
        result = json_object(payload).get("result")
        if not isinstance(result, dict):
            raise ExchangeError("result is not an object")
        return {
            pair.symbol: next(
                (result[name] for name in self._answer_names(pair) if name in result), None
            )
            for pair in pairs
        }

    def timestamp(self, ticker: dict[str, Any], received_at: datetime) -> None:
        """Return None: Kraken's ticker carries no time."""
        return None

    def _answer_names(self, pair: Pair) -> tuple[str, ...]:
        """Return the names Kraken may answer the pair under: its catalogue's key, which it
        was asked by; else as asked, or its legacy name (asked XBTUSD, it answers XXBTZUSD)."""
        if pair.market:
            return (pair.market,)
        base, quote = kraken_asset(pair.base), kraken_asset(pair.quote)
        return base + quote, _legacy(base) + _legacy(quote)


def kraken_asset(asset: str) -> str:
    """Return Kraken's name for the asset."""
    asset = asset.upper()
    return KRAKEN_ASSETS.get(asset, asset)


def _legacy(asset: str) -> str:
    if len(asset) != 3:
        return asset
    return ("Z" if asset in _FIAT else "X") + asset

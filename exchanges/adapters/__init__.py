"""Translators from each venue's public REST ticker to PriceHub's Quote."""

from __future__ import annotations

from exchanges.adapters.base import Adapter
from exchanges.adapters.binance import BinanceAdapter
from exchanges.adapters.bitstamp import BitstampAdapter
from exchanges.adapters.bybit import BybitAdapter
from exchanges.adapters.coinbase import CoinbaseAdapter
from exchanges.adapters.kraken import KrakenAdapter
from exchanges.adapters.okx import OkxAdapter

# Adapters hold no state, so one instance per venue serves every request.
_ADAPTERS: dict[str, Adapter] = {
    adapter.kind: adapter
    for adapter in (
        BinanceAdapter(),
        CoinbaseAdapter(),
        KrakenAdapter(),
        OkxAdapter(),
        BybitAdapter(),
        BitstampAdapter(),
    )
}
ADAPTER_KINDS: tuple[str, ...] = tuple(_ADAPTERS)

__all__ = ["ADAPTER_KINDS", "Adapter", "get_adapter"]


def get_adapter(kind: str) -> Adapter:
    """Return the adapter for a venue kind such as "binance"."""
    try:
        return _ADAPTERS[kind]
    except KeyError:
        known = ", ".join(ADAPTER_KINDS)
        raise ValueError(f"unknown exchange kind {kind!r}; expected one of: {known}") from None

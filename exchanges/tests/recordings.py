"""The venues' recorded answers under recorded/<venue>/, each named with its source in
recorded/SOURCES.md, read back as the venue sent them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).with_name("recorded")
# ccxt's recorder quotes every number that follows a key ("openTime": "1710241845391"); the
# venues send these fields as JSON numbers (their docs), so they are unquoted when read back.
QUOTED_NUMBERS = {
    "binance/ticker_24hr_BTCUSDT.json": ("openTime", "closeTime", "firstId", "lastId", "count"),
    "coinbase/ticker_BTC-USDT.json": ("trade_id",),
    "kraken/asset_pairs.json": (
        "cost_decimals",
        "pair_decimals",
        "lot_decimals",
        "lot_multiplier",
        "margin_call",
        "margin_stop",
        "long_position_limit",
        "short_position_limit",
    ),
}


def load(name: str) -> Any:
    """Return the recorded answer recorded/<name> as JSON, its numbers as the venue sent them."""
    payload = json.loads((RECORDED / name).read_text())
    return _unquote(payload, frozenset(QUOTED_NUMBERS.get(name, ())))


def body(name: str) -> bytes:
    """Return the recorded answer as compact JSON bytes, as the venue sent it."""
    return json.dumps(load(name), separators=(",", ":")).encode()


def _unquote(value: Any, keys: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {
            k: int(v) if k in keys and isinstance(v, str) else _unquote(v, keys)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_unquote(v, keys) for v in value]
    return value

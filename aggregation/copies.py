"""This process's copies of what the reads need, so most reads cost one Redis round trip or
none: the enabled assets (from the database, reloaded when the assets version in Redis moves
or they age past settings.PRICEHUB_ASSET_TABLE_SECONDS), and what Redis held for each asset
and of the promotions, kept settings.PRICEHUB_READ_COPY_SECONDS; and the newest history point
of each asset Redis had no price for, kept settings.PRICEHUB_HISTORY_COPY_SECONDS.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections

from aggregation import price_cache, scheduling
from aggregation.history import reads
from aggregation.models import Asset
from aggregation.price import AggregatedPrice
from aggregation.price_cache import Found
from common import redis_store

logger = logging.getLogger(__name__)

_NEVER = float("-inf")


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """What a read needs of an enabled asset's configuration."""

    symbol: str
    tier: str
    method: str


class _AssetTable:
    """The enabled assets, reloaded when the configuration changes."""

    def __init__(self) -> None:
        self.assets: dict[str, AssetInfo] = {}
        self.version: bytes | None = None
        self.loaded_at = _NEVER
        self.lock = threading.Lock()

    def current(self, version: bytes | None = None) -> dict[str, AssetInfo]:
        """Return the table, reloaded first if version differs or it is too old."""
        if self._fresh(version):
            return self.assets
        with self.lock:
            if self._fresh(version):  # another thread reloaded it while this one waited
                return self.assets
            rows = Asset.objects.filter(enabled=True).values_list("symbol", "tier", "method")
            self.assets = {row[0]: AssetInfo(*row) for row in rows}
            close_old_connections()
            self.version = self.version if version is None else version
            self.loaded_at = time.monotonic()
        return self.assets

    def _fresh(self, version: bytes | None) -> bool:
        age = time.monotonic() - self.loaded_at
        return age < settings.PRICEHUB_ASSET_TABLE_SECONDS and version in (None, self.version)


class _Published:
    """What Redis held: each asset's latest price and failure, and the promotions; each with
    when it was read (time.monotonic())."""

    def __init__(self) -> None:
        self.found: dict[str, tuple[float, Found]] = {}
        self.promoted: tuple[float, frozenset[str]] = (_NEVER, frozenset())


_table = _AssetTable()
_published = _Published()
_history: dict[str, tuple[float, AggregatedPrice | None]] = {}


def assets() -> dict[str, AssetInfo]:
    """Return the enabled assets by symbol."""
    return _table.current()


def forget_assets() -> None:
    """Make this process reload the asset table at its next read."""
    _table.loaded_at = _NEVER


def latest(symbols: list[str]) -> tuple[dict[str, AssetInfo], dict[str, Found], frozenset[str]]:
    """Return the enabled assets among symbols, what Redis holds for each, and the
    promotions; with Redis unavailable, nothing for any of them."""
    now = time.monotonic()
    horizon = settings.PRICEHUB_READ_COPY_SECONDS
    table = _table.current()
    known = {symbol: table[symbol] for symbol in symbols if symbol in table}
    found: dict[str, Found] = {}
    missing = []
    for symbol in known:
        copy = _published.found.get(symbol)
        if copy is not None and now - copy[0] < horizon:
            found[symbol] = copy[1]
        else:
            missing.append(symbol)
    if not missing and now - _published.promoted[0] < horizon:
        return known, found, _published.promoted[1]
    try:
        read, shared = price_cache.read_published(missing, also=scheduling.read_keys())
    except redis_store.UNAVAILABLE:
        logger.warning("Redis unavailable: reading prices from history")
        return known, dict.fromkeys(known, (None, None)), frozenset()
    for symbol, held in read.items():
        found[symbol] = held
        _published.found[symbol] = (now, held)
    promoted, version = scheduling.parse_read(shared)
    _published.promoted = (now, promoted)
    if version != _table.version:
        # The assets changed: the table reloads, and no copy of before is kept.
        _table.current(version)
        _published.found.clear()
        return latest(symbols)
    return known, found, promoted


def history_latest(symbol: str) -> AggregatedPrice | None:
    """Return symbol's newest history point, or None, as DynamoDB answered within
    PRICEHUB_HISTORY_COPY_SECONDS: the reads of an asset Redis has no price for (never priced,
    or Redis unavailable) ask DynamoDB that often at most, whatever their number. A price
    published meanwhile is read from Redis first."""
    now = time.monotonic()
    kept = _history.get(symbol)
    if kept is not None and now - kept[0] < settings.PRICEHUB_HISTORY_COPY_SECONDS:
        return kept[1]
    price = reads.latest(symbol)
    _history[symbol] = (now, price)
    return price

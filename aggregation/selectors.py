"""Reads shared by every endpoint."""

from __future__ import annotations

import logging
from dataclasses import replace

from botocore.exceptions import BotoCoreError, ClientError

from aggregation import history, price_cache
from aggregation.models import Asset
from pricehub.metrics import PRICE_READS

logger = logging.getLogger(__name__)


def price_latest(*, symbol: str) -> price_cache.Cached:
    """Return the latest price of symbol (from Redis, else the newest history point, else
    None), with its latest failed refresh and the symbols promoted to hot."""
    cached = price_cache.load_cached(symbol)
    if cached.price is not None:
        PRICE_READS.labels("cache").inc()
        return cached
    price = None
    try:
        price = history.latest(symbol)
    except (BotoCoreError, ClientError):
        logger.exception("History unavailable for %s", symbol)
    PRICE_READS.labels("nowhere" if price is None else "history").inc()
    return replace(cached, price=price)


def asset_tier(asset: Asset, promoted: frozenset[str]) -> str:
    """Return the tier asset refreshes at: hot while demand promotes it, else its own."""
    return Asset.Tier.HOT.value if asset.symbol in promoted else asset.tier

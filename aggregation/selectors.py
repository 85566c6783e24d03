"""Reads shared by every endpoint."""

from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError

from aggregation import history, price_cache
from aggregation.models import Asset
from aggregation.price import AggregatedPrice
from pricehub.metrics import PRICE_READS

logger = logging.getLogger(__name__)


def price_latest(*, symbol: str) -> AggregatedPrice | None:
    """Return the latest price of symbol: from Redis, else the newest history point, else None."""
    price = price_cache.load(symbol)
    if price is None:
        try:
            price = history.latest(symbol)
        except (BotoCoreError, ClientError):
            logger.exception("History unavailable for %s", symbol)
        found_in = "nowhere" if price is None else "history"
    else:
        found_in = "cache"
    PRICE_READS.labels(found_in).inc()
    return price


def asset_tier(asset: Asset, promoted: set[str]) -> str:
    """Return the tier asset refreshes at: hot while demand promotes it, else its own."""
    return Asset.Tier.HOT.value if asset.symbol in promoted else asset.tier

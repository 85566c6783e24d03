"""Reads shared by every endpoint."""

from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError

from aggregation import history, price_cache
from aggregation.models import Asset
from aggregation.price import AggregatedPrice

logger = logging.getLogger(__name__)


def price_latest(*, symbol: str) -> AggregatedPrice | None:
    """Return the latest price of symbol: from Redis, else the newest history point, else None."""
    price = price_cache.load(symbol)
    if price is not None:
        return price
    try:
        return history.latest(symbol)
    except (BotoCoreError, ClientError):
        logger.exception("History unavailable for %s", symbol)
        return None


def asset_tier(asset: Asset, promoted: set[str]) -> str:
    """Return the tier asset refreshes at: hot while demand promotes it, else its own."""
    return Asset.Tier.HOT.value if asset.symbol in promoted else asset.tier

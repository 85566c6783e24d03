"""Celery interface to the refresh service: the beat tick and the per-asset refresh."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from aggregation import price_cache
from aggregation.models import Asset
from aggregation.services import NoQuorum, price_refresh

logger = logging.getLogger(__name__)


@shared_task
def dispatch_due_refreshes() -> int:
    """Queue a refresh of every enabled asset whose tier interval has passed; return how many."""
    dispatched = 0
    for symbol, tier in Asset.objects.filter(enabled=True).values_list("symbol", "tier"):
        interval = settings.PRICEHUB_TIER_SECONDS[tier]
        if price_cache.claim_refresh(symbol, interval):
            # A refresh still queued after its interval is superseded by the next one.
            refresh_asset.apply_async((symbol,), expires=max(interval, 1.0))
            dispatched += 1
    return dispatched


@shared_task
def refresh_asset(symbol: str) -> None:
    """Refresh one asset's price."""
    try:
        price_refresh(symbol=symbol)
    except NoQuorum as exc:
        logger.warning("%s", exc)
    except Asset.DoesNotExist:
        logger.warning("Skipped refresh of %s: unknown or disabled asset", symbol)

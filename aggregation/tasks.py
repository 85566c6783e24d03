"""Celery interface to the refresh service: the beat tick, the per-asset refresh, promotions."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from aggregation import price_cache
from aggregation.aggregate import NoQuorum
from aggregation.models import Asset
from aggregation.selectors import asset_tier
from aggregation.services import price_refresh

logger = logging.getLogger(__name__)

BEAT_TICK_SECONDS = settings.CELERY_BEAT_SCHEDULE["dispatch-due-refreshes"]["schedule"]


@shared_task
def dispatch_due_refreshes() -> int:
    """Queue a refresh of every enabled asset whose interval has passed; return how many."""
    promoted = price_cache.promoted()
    dispatched = 0
    for asset in Asset.objects.filter(enabled=True).only("symbol", "tier"):
        interval = settings.PRICEHUB_TIER_SECONDS[asset_tier(asset, promoted)]
        # The claim lapses half a tick before the asset is next due, so the tick that comes
        # one interval later always finds it free: a 1 s tier refreshes every second.
        if price_cache.claim_refresh(asset.symbol, max(interval - BEAT_TICK_SECONDS / 2, 0.001)):
            # A refresh still queued after its interval is superseded by the next one.
            refresh_asset.apply_async((asset.symbol,), expires=max(interval, 1.0))
            dispatched += 1
    return dispatched


@shared_task
def refresh_asset(symbol: str) -> None:
    """Refresh one asset's price, unless a refresh of it is already running."""
    try:
        price_refresh(symbol=symbol)
    except price_cache.RefreshInProgress:
        logger.info("Skipped refresh of %s: one is already running", symbol)
    except NoQuorum as exc:
        logger.warning("%s", exc)
    except Asset.DoesNotExist:
        logger.warning("Skipped refresh of %s: unknown or disabled asset", symbol)


@shared_task
def promote_requested_assets() -> list[str]:
    """Refresh the most requested assets as hot until the next promotion; return them."""
    return price_cache.promote_most_requested(settings.PRICEHUB_HOT_PROMOTIONS)

"""Celery interface to the refresh service: the beat tick, the per-asset refresh, promotions."""

from __future__ import annotations

import json
import logging
import time

from celery import shared_task
from django.conf import settings

from aggregation import price_cache, scheduling
from aggregation.aggregate import NoQuorum
from aggregation.models import Asset
from aggregation.selectors import asset_tier
from aggregation.services import price_refresh

logger = logging.getLogger(__name__)

# A bound on one tick's work, far above what 10,000 assets make due in a second.
MAX_DUE_PER_TICK = 5000
BEAT_TICK_SECONDS = settings.CELERY_BEAT_SCHEDULE["dispatch-due-refreshes"]["schedule"]


@shared_task
def dispatch_due_refreshes() -> int:
    """Queue a refresh of every enabled asset now due; return how many."""
    now = time.time()
    _sync_schedule(now)
    # Half a tick ahead: a tick that comes a little early still takes what falls due before
    # the next one, so a 1 s tier refreshes every second, never every other.
    due = scheduling.due_take(now + BEAT_TICK_SECONDS / 2, limit=MAX_DUE_PER_TICK)
    for symbol, interval in due.items():
        # A refresh still queued when the next one is due is superseded by it.
        refresh_asset.apply_async((symbol,), expires=max(interval, 1.0))
    return len(due)


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
    return scheduling.promote_most_requested(settings.PRICEHUB_HOT_PROMOTIONS)


def _sync_schedule(now: float) -> None:
    """Bring the due set in line with the enabled assets, their tiers and the promotions,
    when any of them changed since it was last synced."""
    promoted, version, synced = scheduling.schedule_state()
    tiers = settings.PRICEHUB_TIER_SECONDS
    marker = json.dumps([version.decode(), sorted(promoted), tiers])
    if synced is not None and synced.decode() == marker:
        return
    assets = Asset.objects.filter(enabled=True).only("symbol", "tier")
    intervals = {asset.symbol: tiers[asset_tier(asset, promoted)] for asset in assets}
    scheduling.due_sync(intervals, now, marker=marker)

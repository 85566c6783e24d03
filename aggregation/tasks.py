"""Celery interface to the services: the beat tick, the batch refresh, promotions, and the
history drain."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.conf import settings

from aggregation import scheduling
from aggregation.history import backlog
from aggregation.price import RefreshError
from aggregation.services import prices_refresh
from common import redis_store
from common.metrics import BEAT_TICK_DURATION

logger = logging.getLogger(__name__)


@shared_task
@BEAT_TICK_DURATION.time()
def dispatch_due_refreshes() -> int:
    """Queue the refresh of every enabled asset now due, in batches; return how many assets."""
    now = time.time()
    scheduling.schedule_sync(now)
    # Half a tick ahead: a tick that comes a little early still takes what falls due before
    # the next one, so a 1 s tier refreshes every second, never every other.
    due = scheduling.due_take(
        now + settings.PRICEHUB_BEAT_TICK_SECONDS / 2, limit=settings.PRICEHUB_MAX_DUE_PER_TICK
    )
    by_interval: dict[float, list[str]] = {}
    for symbol, interval in due.items():
        by_interval.setdefault(interval, []).append(symbol)
    for interval, symbols in by_interval.items():
        size = settings.PRICEHUB_REFRESH_BATCH_SIZE
        for start in range(0, len(symbols), size):
            batch = symbols[start : start + size]
            # A batch still queued when its assets are next due is superseded by the next one.
            refresh_batch.apply_async(
                (batch, interval), expires=max(interval, 1.0), queue=_queue(interval)
            )
    return len(due)


@shared_task
def refresh_batch(symbols: list[str], interval: float) -> int:
    """Refresh a batch of assets within their interval; return how many published."""
    # The round ends in time for the next one: a slow venue holds no one back.
    seconds = min(
        max(settings.PRICEHUB_ROUND_SHARE * interval, settings.PRICEHUB_ROUND_MIN_SECONDS),
        settings.PRICEHUB_ROUND_MAX_SECONDS,
    )
    deadline = time.monotonic() + seconds
    try:
        hot = interval <= settings.PRICEHUB_TIER_SECONDS["hot"]
        return prices_refresh(symbols=symbols, deadline=deadline, hot=hot)
    except RefreshError as exc:
        # Their next interval's batch tries again: no retry, no traceback.
        logger.warning("Refresh of %d assets failed (%s): %s", len(symbols), exc.code, exc)
        return 0


@shared_task
def promote_requested_assets() -> list[str]:
    """Refresh the most requested assets as hot until the next promotion; return them."""
    return scheduling.promote_most_requested(settings.PRICEHUB_HOT_PROMOTIONS)


@shared_task
def record_history() -> int:
    """Record the prices waiting in the history backlog; return how many points it stored."""
    try:
        return len(backlog.drain())
    except redis_store.UNAVAILABLE as exc:
        # The next drain, a second later, tries again: no traceback.
        logger.warning("History backlog unreachable: %s", exc)
        return 0


def _queue(interval: float) -> str:
    # Each tier's batches in a queue of its own (settings.CELERY_TASK_QUEUES); cold in the
    # default one. A promoted asset is refreshed as hot, so it goes with the hot ones.
    tiers = settings.PRICEHUB_TIER_SECONDS
    return (
        "hot" if interval <= tiers["hot"] else "medium" if interval <= tiers["medium"] else "celery"
    )

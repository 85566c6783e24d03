"""The prices waiting to be recorded in history, and the drain that records them.

A refresh publishes, then hands its prices to the backlog (a Redis stream, see
recent.pending_add) and goes on: it never waits on DynamoDB. The drain, run by the worker of
the `history` queue (tasks.record_history, every second), records the waiting prices oldest
first, one process at a time, and forgets them once stored. A drain cut short (its process
killed, DynamoDB failing) leaves them waiting and the next one records them again: nothing is
stored twice, since store.record skips a price no newer than its asset's last point, and a
write cut short leaves its assets in doubt until their last point is read back from DynamoDB.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence

from celery.signals import worker_shutting_down
from django.conf import settings
from prometheus_client.core import GaugeMetricFamily, Metric

from aggregation import recent
from aggregation.history import client, store
from aggregation.price import AggregatedPrice
from common import redis_store
from common.metrics import HISTORY_PRICES

logger = logging.getLogger(__name__)

# Set once this process's Celery worker begins to shut down: a drain stops after its round.
_stopping = threading.Event()


def add(prices: Sequence[AggregatedPrice]) -> None:
    """Hand prices over to be recorded after those handed over before; raise while Redis is
    unavailable."""
    recent.pending_add(prices)
    HISTORY_PRICES.labels("queued").inc(len(prices))


def drain() -> list[AggregatedPrice]:
    """Record the waiting prices, oldest first, until none wait, DynamoDB fails,
    HISTORY_DRAIN_SECONDS pass or the worker shuts down, unless another process is at it;
    return those stored (the others were not due). Raise while Redis is unavailable."""
    stored: list[AggregatedPrice] = []
    ends = time.monotonic() + settings.PRICEHUB_HISTORY_DRAIN_SECONDS
    read = settings.PRICEHUB_HISTORY_DRAIN_READ
    with recent.draining() as holds:
        while time.monotonic() < ends and holds() and (waiting := recent.pending(read)):
            for entries, prices in _rounds(waiting, settings.PRICEHUB_HISTORY_DRAIN_ROUND):
                if _stopping.is_set() or not holds():
                    return stored
                try:
                    recorded = store.record(prices)
                except client.ERRORS as exc:
                    count = len(prices)
                    logger.warning("DynamoDB did not take %d prices; they wait: %s", count, exc)
                    return stored
                recent.pending_done(entries)
                stored += recorded
                HISTORY_PRICES.labels("stored").inc(len(recorded))
                HISTORY_PRICES.labels("skipped").inc(len(prices) - len(recorded))
    return stored


@worker_shutting_down.connect
def stop_draining(**kwargs: object) -> None:
    """Let a drain under way end after its round, so that the worker stops within a round's
    time and the rest waits for the next drain."""
    _stopping.set()


def _rounds(
    waiting: list[tuple[bytes, AggregatedPrice | None]], size: int
) -> Iterator[tuple[list[bytes], list[AggregatedPrice]]]:
    # Consecutive waiting prices, in order, as long as no asset comes twice: a price folds
    # into the candles of its asset's price before it.
    entries: list[bytes] = []
    prices: dict[str, AggregatedPrice] = {}
    for entry, price in waiting:
        if price is None:
            # It would never be: it is forgotten with the next ones, not left to block them.
            logger.error("Dropped a waiting price that cannot be read: entry %s", entry.decode())
            HISTORY_PRICES.labels("dropped").inc()
            entries.append(entry)
            continue
        if len(prices) == size or price.asset in prices:
            yield entries, list(prices.values())
            entries, prices = [], {}
        entries.append(entry)
        prices[price.asset] = price
    if entries:
        yield entries, list(prices.values())


class Backlog:
    """Prometheus collector of the backlog as Redis holds it at the scrape: how many prices
    wait, and for how long the oldest of them has (0 when none does)."""

    NAMES = ("pricehub_history_backlog_prices", "pricehub_history_backlog_age_seconds")

    def collect(self) -> Iterator[Metric]:
        try:
            count, oldest = recent.pending_state()
        except redis_store.UNAVAILABLE as exc:
            logger.warning("History backlog left out of the metrics: %s", exc)
            return
        age = 0.0 if oldest is None else max(0.0, time.time() - oldest)
        yield GaugeMetricFamily(self.NAMES[0], "Prices waiting to be recorded in history", count)
        yield GaugeMetricFamily(self.NAMES[1], "Age of the oldest price waiting, seconds", age)

"""PriceHub's own Prometheus metrics, beside django-prometheus' request metrics.

Web and worker processes on a host share them through PROMETHEUS_MULTIPROC_DIR, so /metrics
shows the workers' refreshes too. Counters and histograms only: they aggregate across processes.
"""

from __future__ import annotations

import bisect
import os
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from typing import Any

from django_prometheus import middleware
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

REFRESH_SECONDS = Histogram(
    "pricehub_refresh_seconds", "Duration of one asset refresh", ["outcome"]
)  # outcome: published or no_quorum
VENUE_REQUESTS = Counter(
    "pricehub_venue_requests_total", "Ticker requests to venues", ["exchange", "outcome"]
)  # outcome: ok, or the reason of the failure
VENUE_SECONDS = Histogram(
    "pricehub_venue_request_seconds", "Duration of one ticker request", ["exchange"]
)
VENUE_REFUSED = Counter(
    "pricehub_venue_refused_total", "Calls a venue refused for its rate limit", ["exchange"]
)
VENUE_HELD = Counter(
    "pricehub_venue_held_total", "Calls not made to keep within a venue's limit", ["exchange"]
)
QUOTES_EXCLUDED = Counter(
    "pricehub_quotes_excluded_total", "Quotes left out of a price", ["reason"]
)
PRICE_READS = Counter(
    "pricehub_price_reads_total", "Latest-price reads by where they were found", ["found_in"]
)  # found_in: cache (a hit), history (a miss served from DynamoDB) or nowhere
PRICE_AGE_SECONDS = Histogram(
    "pricehub_price_age_seconds",
    "Age of the prices served",
    ["tier"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600),
)
BEAT_TICK_DURATION = Histogram(
    "pricehub_beat_tick_seconds",
    "Duration of one beat tick: syncing and taking the due assets, queueing their batches",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
CELERY_TASKS = Counter("pricehub_celery_tasks_total", "Celery tasks run", ["task", "outcome"])
HISTORY_PRICES = Counter(
    "pricehub_history_prices_total",
    "Prices handed to history, and what became of them",
    ["outcome"],
)  # outcome: queued (handed over by a refresh), then stored (a point), skipped (it neither
# moved nor aged enough to be one) or dropped (it could not be read back)


class PrometheusAfterMiddleware(middleware.PrometheusAfterMiddleware):
    """django-prometheus' request metrics, each labelled series looked up once: labels()
    costs more than the increment, and a request makes eight of them."""

    def label_metric(self, metric: Any, request: Any, response: Any = None, **labels: str) -> Any:
        key = (metric, *labels.values())
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = super().label_metric(metric, request, **labels)
        return series

    _series: dict[tuple[Any, ...], Any] = {}  # shared by every instance


def observe_many(histogram: Histogram, values: list[float]) -> None:
    """Observe values into a labelled histogram at once: a write per bucket touched, where
    observe() makes two per value (each a shared-memory write in multiprocess mode)."""
    counts = Tally(bisect.bisect_left(histogram._upper_bounds, value) for value in values)
    for bucket, count in counts.items():
        histogram._buckets[bucket].inc(count)
    histogram._sum.inc(sum(values))


class _Collectors:
    """What a scrape shows: this host's samples and any collector read at the scrape."""

    def __init__(self, extra: Iterable[Collector]) -> None:
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:  # every process of the host, summed
            self.host: Collector = CollectorRegistry()
            MultiProcessCollector(self.host)
        else:
            self.host = REGISTRY
        self.extra = list(extra)

    def collect(self) -> Iterator[object]:
        for collector in (self.host, *self.extra):
            yield from collector.collect()


def exposition(*extra: Collector) -> bytes:
    """Return this host's metrics, and extra's, in Prometheus's text format."""
    return generate_latest(_Collectors(extra))  # type: ignore[arg-type]


def serve(port: int) -> None:
    """Serve this host's metrics at http://0.0.0.0:port/ from a thread of this process."""
    start_http_server(port, registry=_Collectors(()))  # type: ignore[arg-type]

"""PriceHub's Prometheus metrics: its requests, refreshes, venues, history and beat.

Web and worker processes on a host share them through PROMETHEUS_MULTIPROC_DIR, so /metrics
shows the workers' refreshes too. Counters and histograms only: they aggregate across processes.
"""

from __future__ import annotations

import bisect
import functools
import os
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.deprecation import MiddlewareMixin
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

HTTP_ANSWERS = Counter(
    "pricehub_http_answers_total", "Requests answered", ["view", "method", "status"]
)  # view: the URL's name (pricehub/urls.py), or <unresolved>
HTTP_SECONDS = Histogram(
    "pricehub_http_request_seconds",
    "Time from a request's arrival to its answer, in the app",
    ["view", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
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


class RequestMetricsMiddleware(MiddlewareMixin):
    """Count each answer by view, method and status, and time it by view, each labelled series
    looked up once, in batches (count, observe_many). First in MIDDLEWARE, so the answers other
    middleware give (a redirect to HTTPS, a refused Host) count too."""

    def process_request(self, request: HttpRequest) -> None:
        request.metrics_started = time.perf_counter()  # type: ignore[attr-defined]

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        match = request.resolver_match
        method = request.method if request.method in _METHODS else "other"
        answers, seconds = _series(
            match.view_name if match else "<unresolved>", method, str(response.status_code)
        )
        count(answers)
        started = getattr(request, "metrics_started", None)
        if started is not None:
            observe_many(seconds, [time.perf_counter() - started])
        return response


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@functools.lru_cache(maxsize=1024)
def _series(view: str, method: str, status: str) -> tuple[Any, Any]:
    # labels() costs more than the write it prepares.
    return HTTP_ANSWERS.labels(view, method, status), HTTP_SECONDS.labels(view, method)


class _Batch:
    """This process's additions to the reads' series, not written yet: each write to the
    host's shared metrics takes a lock and a shared-memory store, and the six of a read took
    about a tenth of its server's CPU (docs/benchmarks.md). They are written by a timer
    METRICS_FLUSH_SECONDS after the first of them, and when this process is scraped."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.amounts: dict[Any, float] = {}  # a counter's series, a histogram's bucket or sum


_batch = _Batch()


def count(series: Any, amount: float = 1.0) -> None:
    """Add amount to a labelled counter, as series.inc(amount) does, in this process's batch."""
    _add({series: amount})


def observe_many(histogram: Histogram, values: list[float]) -> None:
    """Observe values into a labelled histogram, as histogram.observe(value) does for each, in
    this process's batch."""
    # A plain dict: a Counter costs a read of one price more than the rest of this function.
    amounts: dict[Any, float] = {}
    for value in values:
        bucket = histogram._buckets[bisect.bisect_left(histogram._upper_bounds, value)]
        amounts[bucket] = amounts.get(bucket, 0) + 1
    amounts[histogram._sum] = sum(values)
    _add(amounts)


def _add(amounts: dict[Any, float]) -> None:
    with _batch.lock:
        batch = _batch.amounts
        if not batch:  # its first addition: the batch is written an interval later
            interval = settings.PRICEHUB_METRICS_FLUSH_SECONDS
            timer = threading.Timer(interval, _flush_if, args=(batch,))
            timer.daemon = True  # a process that ends loses at most an interval's reads
            timer.start()
        for series, amount in amounts.items():
            batch[series] = batch.get(series, 0) + amount


def flush() -> None:
    """Write what this process's batch holds to the metrics."""
    _flush_if(None)


def _flush_if(batch: dict[Any, float] | None) -> None:
    # A timer writes its own batch, unless a scrape has written it already.
    with _batch.lock:
        if batch is not None and batch is not _batch.amounts:
            return
        amounts, _batch.amounts = _batch.amounts, {}
    for series, amount in amounts.items():
        series.inc(amount)


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
        flush()  # this process's batch: what the others hold shows at their next writing
        for collector in (self.host, *self.extra):
            yield from collector.collect()


def exposition(*extra: Collector) -> bytes:
    """Return this host's metrics, and extra's, in Prometheus's text format."""
    return generate_latest(_Collectors(extra))  # type: ignore[arg-type]


def serve(port: int) -> None:
    """Serve this host's metrics at http://0.0.0.0:port/ from a thread of this process."""
    start_http_server(port, registry=_Collectors(()))  # type: ignore[arg-type]

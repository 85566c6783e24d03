"""The stack's Prometheus metrics, scraped from the API's server's own /metrics and compared
between scrapes."""

from __future__ import annotations

import math

import requests
from prometheus_client.parser import text_string_to_metric_families

from bench import stack

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape() -> Samples:
    """Return every sample of the stack's /metrics, by name and labels."""
    text = requests.get(f"{stack.INSIDE}/metrics", timeout=30).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """Return how much the samples named name (with labels) grew between two scrapes."""

    def total(samples: Samples) -> float:
        return sum(
            value
            for (sample, sample_labels), value in samples.items()
            if sample == name and labels.items() <= dict(sample_labels).items()
        )

    return total(after) - total(before)


def histogram_p99(before: Samples, after: Samples, name: str) -> float:
    """Return the 99th percentile of a histogram's observations between two scrapes: the
    bound of the first bucket that holds 99 % of them."""
    buckets = sorted(
        (float(dict(labels)["le"]), value - before.get((sample, labels), 0.0))
        for (sample, labels), value in after.items()
        if sample == f"{name}_bucket"
    )
    count = buckets[-1][1] if buckets else 0
    for bound, cumulative in buckets:
        if count and cumulative >= 0.99 * count:
            return bound
    return math.nan

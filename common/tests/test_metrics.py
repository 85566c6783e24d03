from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from common.metrics import observe_many


def samples(histogram: Histogram) -> dict[str, float]:
    return {
        f"{sample.name}{sample.labels}": sample.value
        for metric in histogram.collect()
        for sample in metric.samples
        if not sample.name.endswith("_created")
    }


def test_observe_many_counts_as_observing_each_value():
    values = [0.0, 0.5, 0.7, 1.0, 3.0, 3.0, 60.0, 1e9]
    one, many = (
        Histogram("age", "", ["tier"], buckets=(0.5, 1, 2, 5, 60), registry=CollectorRegistry())
        for _ in range(2)
    )
    for value in values:
        one.labels("hot").observe(value)
    observe_many(many.labels("hot"), values)
    assert samples(many) == samples(one)
    assert samples(many)["age_count{'tier': 'hot'}"] == 8

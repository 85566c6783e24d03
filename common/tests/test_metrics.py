from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram

from common.metrics import count, exposition, flush, observe_many


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
    flush()
    assert samples(many) == samples(one)
    assert samples(many)["age_count{'tier': 'hot'}"] == 8


def test_what_reads_add_is_written_an_interval_after_the_first_of_it_or_at_a_scrape(settings):
    answers = Counter("answers", "", ["view"], registry=CollectorRegistry()).labels("price")
    ages = Histogram("ages", "", buckets=(1, 5), registry=CollectorRegistry())
    settings.PRICEHUB_METRICS_FLUSH_SECONDS = 3600
    flush()  # what earlier tests left: the next addition starts a batch
    count(answers)
    count(answers, 2)
    observe_many(ages, [0.5, 3.0])
    assert (answers._value.get(), ages._sum.get()) == (0, 0)
    exposition()  # a scrape of this process writes them
    assert (answers._value.get(), ages._sum.get()) == (3, 3.5)
    assert [bucket.get() for bucket in ages._buckets] == [1, 1, 0]
    settings.PRICEHUB_METRICS_FLUSH_SECONDS = 0.2
    count(answers)
    assert answers._value.get() == 3
    deadline = time.monotonic() + 5
    while answers._value.get() == 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert answers._value.get() == 4  # written by the batch's timer, with no other read

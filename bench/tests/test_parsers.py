"""The load tools' outputs, recorded from real runs, read into figures."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.report import age_p95
from bench.tools import ToolError, parse_hey, parse_wrk

SAMPLES = Path(__file__).resolve().parent / "samples"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def test_it_reads_wrk_figures_and_counts_error_statuses():
    m = parse_wrk(sample("wrk_some_503.txt"))

    assert (m.requests, m.seconds, m.rps) == (17431, 2.003, 8701.0)
    assert (m.p50_ms, m.p95_ms, m.p99_ms) == (0.809, 2.790, 4.343)
    assert m.statuses == {200: 15688, 503: 1743}
    assert m.errors == 1743


def test_it_counts_wrk_socket_errors():
    m = parse_wrk(sample("wrk_server_went_away.txt"))

    assert m.requests == 3264
    assert m.statuses == {200: 3264}
    assert m.failures == {"read": 6, "write": 2015}
    assert m.errors == 2021


def test_it_rejects_wrk_output_without_the_report_line():
    with pytest.raises(ToolError):
        parse_wrk("unable to connect to 127.0.0.1:8080 Connection refused\n")


def test_it_reads_hey_figures_and_counts_non_200_answers():
    m = parse_hey(sample("hey_some_503.txt"))

    assert (m.requests, m.seconds) == (200, 4.0185)
    assert m.rps == pytest.approx(200 / 4.0185)
    assert (m.p50_ms, m.p95_ms, m.p99_ms) == pytest.approx((6.5, 7.5, 8.8))
    assert m.statuses == {200: 180, 503: 20}
    assert m.errors == 20


def test_it_counts_hey_failed_requests_as_errors_but_not_as_answers():
    m = parse_hey(sample("hey_server_went_away.txt"))

    assert m.statuses == {200: 54, 503: 6}
    assert m.failures == {"dial tcp 127.0.0.1:18998: connect: connection refused": 20}
    assert m.errors == 6 + 20
    # hey's own Requests/sec (19.96) counts the 20 refused requests too.
    assert m.rps == pytest.approx(60 / 4.0080)


def test_it_leaves_out_a_percentile_hey_could_not_place():
    m = parse_hey(sample("hey_server_went_away.txt"))

    assert m.p95_ms == pytest.approx(4.2)
    assert math.isnan(m.p99_ms)


def test_it_reads_a_hey_run_without_any_answer():
    m = parse_hey(sample("hey_refused.txt"))

    assert (m.requests, m.rps, m.errors) == (0, 0.0, 10)
    assert math.isnan(m.p50_ms)


def test_it_rejects_hey_output_without_a_summary():
    with pytest.raises(ToolError):
        parse_hey("Error: invalid argument\n")


def test_it_counts_a_failed_age_sample_as_infinitely_old():
    assert age_p95([0.1] * 18 + [0.5, 0.6]) == 0.5
    assert age_p95([0.1] * 18 + [None, None]) == math.inf

"""The rows and lines the bench prints from its rounds."""

from __future__ import annotations

from bench.report import Row, Run, checks, cpu_line, median_round, rounds_line
from bench.tools import Measurement


def row(key: str, rps: float, p99_ms: float = 5.0) -> Row:
    return Row(key, key, Measurement(int(rps * 15), 15.0, rps, 1.0, 3.0, p99_ms, 0))


def test_each_row_of_alternating_rounds_is_its_median_round_with_its_own_latencies():
    rounds = [row("hot GET", 4000, 9.0), row("hot GET", 7000, 4.0), row("hot GET", 5000, 6.0)]
    assert median_round(rounds) is rounds[2]
    assert median_round(rounds[:2]) is rounds[0]  # of two, the lower


def test_the_hot_get_is_held_to_the_reference_s_median_round_and_each_round_shows():
    refs, hots = (
        [row("reference", r) for r in (3600, 9000, 8000)],
        [row("hot GET", h) for h in (4000, 7000, 7500)],
    )
    others = [row("1000 clients", 960, 8.0), row("batch", 2000)]
    run = Run(
        [median_round(refs), median_round(hots), *others],
        [0.5],
        {},
        {},
        list(zip(refs, hots, strict=True)),
    )
    hot_check = checks(run)[0]
    assert hot_check == (
        False,
        "hot GET: 7000 req/s >= 1.0 x reference 8000, "
        "p99 5.0 ms <= 1.5 x reference 5.0 ms, 0 errors",
    )
    assert checks(run)[1][0] is True  # 960 req/s, p99 8 ms <= 10 ms
    assert rounds_line(run) == (
        "hot GET / reference req/s, round by round: "
        "1.11 (4000 / 3600), 0.78 (7000 / 9000), 0.94 (7500 / 8000)"
    )


def test_the_cpu_of_a_request_is_summed_over_pricehub_s_servers_beside_the_reference_s():
    ref = Row("reference", "reference", row("reference", 8000).result, {"reference": 140.0})
    hot = Row("hot GET", "hot GET", row("hot GET", 6000).result, {"front": 45.0, "API": 215.0})
    run = Run([ref, hot], [], {}, {}, [(ref, hot)])
    assert cpu_line(run) == (
        "CPU a request, PriceHub's servers / the reference's, round by round: "
        "front 45 + API 215 = 260 us / 140 us (1.86x)"
    )

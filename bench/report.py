"""The benchmark's results: the table, the freshness and memory lines, and the target checks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.tools import Measurement

MB = 1024 * 1024
HOT_KEY, CLIENTS_KEY = "hot GET", "1000 clients"


@dataclass(frozen=True)
class Row:
    key: str  # a short name: "reference", "hot GET", "1000 clients", "batch", "candles 1m", ...
    name: str
    result: Measurement
    cpu: dict[str, float] = field(default_factory=dict)  # microseconds a request, by server


@dataclass(frozen=True)
class Run:
    rows: list[Row]
    ages: list[float | None]  # BTCUSDT age_seconds sampled under the hot load; None: failed
    rss_start: dict[int, int]  # web worker pid -> bytes
    rss_end: dict[int, int]
    rounds: list[tuple[Row, Row]]  # the reference's and the hot GET's, in the order they ran

    def result(self, key: str) -> Measurement:
        return next(row.result for row in self.rows if row.key == key)


COLUMNS = (
    "scenario",
    "req/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "errors",
    "req/s vs ref",
    "p99 vs ref",
)


def table_cells(run: Run) -> list[tuple[str, ...]]:
    """Return the table's cells, a tuple per row, with the reference ratios."""
    reference = run.result("reference")
    cells = []
    for row in run.rows:
        m = row.result
        p99_ratio = _ratio(m.p99_ms, reference.p99_ms) if row.key in ("reference", HOT_KEY) else ""
        cells.append((
            row.name, f"{m.rps:.0f}", _ms(m.p50_ms), _ms(m.p95_ms), _ms(m.p99_ms), str(m.errors),
            _ratio(m.rps, reference.rps), p99_ratio,
        ))  # fmt: skip
    return cells


def text_table(run: Run) -> str:
    """Return the table aligned for a terminal."""
    lines = [COLUMNS, *table_cells(run)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )


def markdown_table(run: Run) -> str:
    """Return the table in Markdown."""
    lines = [COLUMNS, ("---",) + ("---:",) * (len(COLUMNS) - 1), *table_cells(run)]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def median_round(rounds: list[Row]) -> Row:
    """Return the round of median req/s (the lower middle one of an even number)."""
    return sorted(rounds, key=lambda row: row.result.rps)[(len(rounds) - 1) // 2]


def rounds_line(run: Run) -> str:
    """Return each round's hot GET to reference ratio, so the spread shows beside the median."""
    parts = [
        f"{hot.result.rps / ref.result.rps:.2f} ({hot.result.rps:.0f} / {ref.result.rps:.0f})"
        for ref, hot in run.rounds
        if ref.result.rps
    ]
    return "hot GET / reference req/s, round by round: " + ", ".join(parts)


def cpu_line(run: Run) -> str:
    """Return the CPU a request cost PriceHub's servers and the reference's, round by round:
    a figure the machine's other work moves far less than req/s."""
    parts = []
    for ref, hot in run.rounds:
        if hot.cpu and ref.cpu:
            spent, yardstick = sum(hot.cpu.values()), sum(ref.cpu.values())
            each = " + ".join(f"{name} {us:.0f}" for name, us in hot.cpu.items())
            parts.append(f"{each} = {spent:.0f} us / {yardstick:.0f} us ({spent / yardstick:.2f}x)")
    return "CPU a request, PriceHub's servers / the reference's, round by round: " + (
        "; ".join(parts) or "not measured"
    )


def error_lines(run: Run) -> list[str]:
    """Return what the errors of each row were, for the rows that had any."""
    lines = []
    for row in run.rows:
        m = row.result
        bad = [
            f"HTTP {status} x {n}" for status, n in m.statuses.items() if not 200 <= status < 400
        ]
        bad += [f"{reason} x {n}" for reason, n in m.failures.items()]
        if m.errors:
            lines.append(f"errors of {row.key}: {'; '.join(bad)}")
    return lines


def freshness_line(ages: list[float | None]) -> str:
    failed = sum(age is None for age in ages)
    return (
        f"BTCUSDT age_seconds under the hot load: p95 {_seconds(age_p95(ages))}, "
        f"max {_seconds(max((a for a in ages if a is not None), default=math.nan))} "
        f"over {len(ages)} samples (5 a second, one plain connection; {failed} failed)"
    )


def age_p95(ages: list[float | None]) -> float:
    """Return the nearest-rank p95 of the ages; a failed sample counts as infinitely old."""
    if not ages:
        return math.nan
    ordered = sorted(math.inf if age is None else age for age in ages)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def rss_line(run: Run) -> str:
    pids = sorted(run.rss_start.keys() | run.rss_end.keys())
    parts = [
        f"pid {pid} {_mb(run.rss_start.get(pid))} -> {_mb(run.rss_end.get(pid))}" for pid in pids
    ]
    return "web worker RSS, start -> end: " + ("; ".join(parts) or "no web worker found")


def checks(run: Run) -> list[tuple[bool, str]]:
    """Return each target with whether this run met it."""
    ref, hot, clients, batch = (run.result(k) for k in ("reference", HOT_KEY, CLIENTS_KEY, "batch"))
    found = [
        (
            hot.rps >= ref.rps and hot.p99_ms <= 1.5 * ref.p99_ms and hot.errors == 0,
            f"hot GET: {hot.rps:.0f} req/s >= 1.0 x reference {ref.rps:.0f}, "
            f"p99 {_ms(hot.p99_ms)} ms <= 1.5 x reference {_ms(ref.p99_ms)} ms, "
            f"{hot.errors} errors",
        ),
        (
            clients.rps >= 950 and clients.p99_ms <= 10 and clients.errors == 0,
            f"1000 clients x 1 req/s: {clients.rps:.0f} req/s served >= 950, "
            f"p99 {_ms(clients.p99_ms)} ms <= 10 ms, {clients.errors} errors",
        ),
        (
            batch.rps >= 0.25 * hot.rps,
            f"batch: {batch.rps:.0f} req/s >= 0.25 x hot GET {hot.rps:.0f}",
        ),
    ]
    for row in run.rows:
        if row.key == "history" or row.key.startswith("candles"):
            p99 = row.result.p99_ms
            found.append((p99 <= 50, f"{row.key}: p99 {_ms(p99)} ms <= 50 ms"))
    p95 = age_p95(run.ages)
    found.append((p95 <= 1.5, f"freshness: BTCUSDT p95 age {_seconds(p95)} <= 1.5 s"))
    found.append(_rss_check(run.rss_start, run.rss_end))
    return found


def _rss_check(start: dict[int, int], end: dict[int, int]) -> tuple[bool, str]:
    text = "web RSS flat: each worker's end <= start x 1.2 + 10 MB"
    if not start or start.keys() != end.keys():
        return False, f"{text} (workers changed: {sorted(start)} -> {sorted(end)})"
    return all(end[pid] <= start[pid] * 1.2 + 10 * MB for pid in start), text


def _ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}" if reference and not math.isnan(value / reference) else "-"


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def _seconds(value: float) -> str:
    return "-" if math.isnan(value) or math.isinf(value) else f"{value:.2f} s"


def _mb(value: int | None) -> str:
    return "gone" if value is None else f"{value / MB:.1f} MB"


def sized(name: str, body: Any) -> str:
    """Return a history or candles row's name with how many points or candles an answer of it
    (body, decoded) holds: the bench's stack starts from nothing, so its history is as long as
    the bench has run. Other rows keep their name."""
    for member in ("points", "candles"):
        if isinstance(body, dict) and isinstance(body.get(member), list):
            return f"{name}, {len(body[member])} {member}"
    return name

"""The latency plot: p50, p95 and p99 of every scenario, bars on a log scale."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write the file only

import matplotlib.pyplot as plt

from bench.report import Run

PERCENTILES = (("p50", "p50_ms"), ("p95", "p95_ms"), ("p99", "p99_ms"))


def latency_plot(run: Run, path: Path, *, title: str) -> None:
    """Write a PNG of each scenario's latency percentiles to path."""
    figure, axes = plt.subplots(figsize=(10, 5), layout="constrained")
    width = 0.27
    for i, (label, attribute) in enumerate(PERCENTILES):
        positions = [n + (i - 1) * width for n in range(len(run.rows))]
        values = [getattr(row.result, attribute) for row in run.rows]
        axes.bar(positions, values, width, label=label)
    axes.set_yscale("log")
    axes.set_ylabel("latency, ms (log scale)")
    axes.set_xticks(range(len(run.rows)), [row.key for row in run.rows], rotation=20, ha="right")
    axes.set_title(title, fontsize=10)
    axes.grid(axis="y", which="both", alpha=0.3)
    axes.legend()
    figure.savefig(path, dpi=110)
    plt.close(figure)

"""BTCUSDT's refresh gaps and error against the simulator's truth, fault-free and with one
venue slow (`make bench`)."""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

import requests

from bench import stack, tools


@dataclass
class Gaps:
    """How often the hot BTCUSDT was aggregated, and how close to the simulator's truth."""

    label: str
    mean_gap: float
    error_bps: float

    def line(self) -> str:
        return (
            f"BTCUSDT {self.label}: mean gap {self.mean_gap:.2f} s, error {self.error_bps:.2f} bps"
        )


GAP_SECONDS = 20.0
VENUE = "http://127.0.0.1:8081"  # the simulated Binance of `make run`, made slow
# Every venue knows the same true price; ask one that is not slow, whose 4 threads are not all
# busy serving delayed tickers.
TRUTH = "http://127.0.0.1:8083"  # the simulated Kraken


def gaps() -> list[Gaps]:
    """Measure BTCUSDT's refresh gaps and error, fault-free and with one venue slow."""
    found = [_gaps("fault-free")]
    fault = {"mode": "slow", "delay": 5}
    requests.put(f"{VENUE}/sim/faults/*", json=fault, timeout=5).raise_for_status()
    try:
        found.append(_gaps("with binance slow"))
    finally:
        requests.delete(f"{VENUE}/sim/faults", timeout=5)
    return found


def gap_marks(found: list[Gaps]) -> list[str]:
    free, slow = found
    worse = slow.error_bps - free.error_bps
    return [
        tools.mark(free.mean_gap <= 1.1, f"BTCUSDT mean gap {free.mean_gap:.2f} s <= 1.1 s"),
        tools.mark(slow.mean_gap <= 1.25, f"with a slow venue {slow.mean_gap:.2f} s <= 1.25 s"),
        tools.mark(worse <= 2, f"with a slow venue, error {worse:+.2f} bps <= +2 bps"),
    ]


def _gaps(label: str) -> Gaps:
    seen: dict[str, float] = {}
    started = time.monotonic()
    with requests.Session() as session:
        while time.monotonic() - started < GAP_SECONDS:
            document = session.get(f"{stack.BASE}/prices/BTCUSDT", timeout=5).json()
            seen.setdefault(document["aggregated_at"], document["price"])
            time.sleep(0.05)
        times = sorted(seen)
        moments = [stack.epoch_ms(moment) for moment in times]
        spans = [(b - a) / 1000 for a, b in itertools.pairwise(moments)]
        errors = []
        for moment, at in zip(times, moments, strict=True):
            truth = session.get(f"{TRUTH}/sim/truth/BTCUSDT?at={at}", timeout=5).json()
            errors.append(abs(seen[moment] / float(truth["price"]) - 1) * 1e4)
    mean_gap = sum(spans[1:]) / len(spans[1:]) if len(spans) > 1 else math.nan
    return Gaps(label, mean_gap, sum(errors) / len(errors) if errors else math.nan)

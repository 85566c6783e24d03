"""`make bench`'s scale scenario: the stack with many simulated assets, refreshed on time?

Once every sampled asset has its first price (the first round, timed), and after a warm-up,
it samples, every few seconds through the batch endpoint, the age of every hot
and medium asset and of 1,000 cold ones picked at random, and the history backlog, and reads
from /metrics the refreshes per second and the beat tick's duration; it reads the workers' CPU
and memory; then it runs the original system's mixed read load over 1,000 assets and reports
the Redis hit rate. Last, it pauses the ticks until the refreshes stop and the history backlog
is empty: every price handed to history must have been taken from it, as a point or not due.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from bench import metrics, stack, tools
from bench.report import age_p95

ASSETS = int(os.environ.get("BENCH_SCALE_ASSETS", "10000"))
WARMUP_SECONDS = float(os.environ.get("BENCH_SCALE_WARMUP", "60"))
SECONDS = float(os.environ.get("BENCH_SCALE_SECONDS", "300"))
FIRST_ROUND_SECONDS = 600
SAMPLE_EVERY = 10.0
COLD_SAMPLE = 1000
# The original system's JMeter plan: threads reading hot, medium and cold assets.
MIXED_WEIGHTS = {"hot": 1800, "medium": 1200, "cold": 800}
MIXED_ASSETS = {"hot": 20, "medium": 180, "cold": 800}
BACKLOG_PRICES = "pricehub_history_backlog_prices"
BACKLOG_AGE = "pricehub_history_backlog_age_seconds"
HISTORY_PRICES = "pricehub_history_prices_total"
DRAIN_SECONDS = 300


@dataclass
class Scale:
    """What the scale scenario measured."""

    assets: int
    sampled: int = 0  # asset samples taken
    on_time: int = 0  # of which within their tier interval plus 1 s
    late: Counter[str] = field(default_factory=Counter)  # answered but late, by tier
    unanswered: int = 0  # samples the batch endpoint gave no price for
    hot_ages: list[float | None] = field(default_factory=list)
    first_round_seconds: float = math.nan  # until every sampled asset had its first price
    refreshes_per_second: float = 0.0
    stored_per_second: float = 0.0  # history points written to DynamoDB
    tick_p99_ms: float = math.nan
    worker_cpu_percent: float = 0.0
    worker_rss_mb: float = 0.0
    mixed: tools.Measurement | None = None
    hit_rate: float = math.nan
    backlog_prices: float = 0.0  # the most prices seen waiting for history
    backlog_age: float = 0.0  # the oldest age seen of a price waiting, seconds
    history: Counter[str] = field(default_factory=Counter)  # prices by outcome, once drained

    def lines(self) -> list[str]:
        """Return the figures, one a line, and the targets met or missed."""
        share = self.on_time / self.sampled if self.sampled else 0.0
        hot = age_p95(self.hot_ages)
        mixed = self.mixed
        history = self.history
        lost = history["queued"] - history["stored"] - history["skipped"] - history["dropped"]
        return [
            f"scale: {self.assets} assets, {SECONDS:g} s after {WARMUP_SECONDS:g} s of warm-up",
            f"- first round: every sampled asset priced {self.first_round_seconds:.0f} s after"
            " the first 50 (the warm-up starts then)",
            f"- on time (age within tier interval + 1 s): {share:.2%} of {self.sampled} samples"
            f" (late: {', '.join(f'{t} {n}' for t, n in sorted(self.late.items())) or 'none'};"
            f" without a price: {self.unanswered})",
            f"- hot assets' age p95: {hot:.2f} s",
            f"- refreshes: {self.refreshes_per_second:.0f}/s; history points stored: "
            f"{self.stored_per_second:.0f}/s; beat tick p99 {self.tick_p99_ms:.0f} ms",
            f"- worker: {self.worker_cpu_percent:.0f} % CPU, {self.worker_rss_mb:.0f} MB RSS",
            f"- mixed reads over 1,000 assets: {mixed.rps:.0f} req/s, p99 {mixed.p99_ms:.1f} ms, "
            f"{mixed.errors} errors; Redis hit rate {self.hit_rate:.2%}"
            if mixed
            else "- mixed reads: not run",
            f"- history backlog: at most {self.backlog_prices:.0f} prices waiting, the oldest"
            f" {self.backlog_age:.1f} s; once drained, of {history['queued']:.0f} handed over,"
            f" {history['stored']:.0f} stored, {history['skipped']:.0f} not due,"
            f" {history['dropped']:.0f} dropped, {lost:.0f} unaccounted for",
            "",
            tools.mark(share >= 0.99, f"on time: {share:.2%} >= 99 %"),
            tools.mark(hot <= 1.5, f"hot age p95: {hot:.2f} s <= 1.5 s"),
            tools.mark(
                self.tick_p99_ms <= 100, f"beat tick p99: {self.tick_p99_ms:.0f} ms <= 100 ms"
            ),
            tools.mark(
                history["queued"] > 0 and lost == 0 == history["dropped"],
                f"history: {lost + history['dropped']:.0f} points lost once the backlog drained",
            ),
            tools.mark(
                mixed is not None and mixed.errors == 0 and self.hit_rate >= 0.99,
                f"mixed reads: hit rate {self.hit_rate:.2%} >= 99 %, "
                f"{mixed.errors if mixed else '-'} errors",
            ),
        ]


def run() -> Scale:
    """Start the stack with ASSETS simulated assets, measure, stop it."""
    result = Scale(ASSETS)
    # DynamoDB Local on disk, as `make run` has it: the history worker records the points
    # apart, and the refreshes never wait on it.
    # Ten thousand assets every few seconds are far more calls than any venue allows one
    # address: this measures PriceHub's own capacity, with the venues' limits lifted.
    with stack.running(assets=ASSETS, VENUE_LIMITS="false", SIM_LIMITS="false") as process:
        stack.wait_until_priced(process)
        assets, first_priced = _assets(), time.monotonic()
        intervals = {asset["tier"]: asset["refresh_seconds"] for asset in assets}
        sample, jitter = _sample(assets), random.Random(7)  # noqa: S311
        # Every asset is new at first, and its first refresh costs more (its history is
        # looked up): the start is measured apart, then the warm-up begins.
        what = f"a price for each of the {len(sample)} sampled assets"
        stack.until(process, FIRST_ROUND_SECONDS, what, lambda: _all_priced(sample))
        result.first_round_seconds = time.monotonic() - first_priced
        time.sleep(WARMUP_SECONDS)
        before, (cpu_before, _), started = (
            metrics.scrape(),
            _worker_usage(process),
            time.monotonic(),
        )
        while time.monotonic() - started < SECONDS:
            _take(sample, intervals, result)
            _watch_backlog(result)
            # At no fixed phase of the refreshes, so the ages sampled are not biased.
            time.sleep(jitter.uniform(SAMPLE_EVERY / 2, SAMPLE_EVERY * 3 / 2))
        after, (cpu_after, rss), elapsed = (
            metrics.scrape(),
            _worker_usage(process),
            time.monotonic() - started,
        )
        result.refreshes_per_second = (
            metrics.delta(before, after, "pricehub_refresh_seconds_count") / elapsed
        )
        stored = metrics.delta(before, after, HISTORY_PRICES, outcome="stored")
        result.stored_per_second = stored / elapsed
        result.tick_p99_ms = (
            metrics.histogram_p99(before, after, "pricehub_beat_tick_seconds") * 1000
        )
        result.worker_cpu_percent = (cpu_after - cpu_before) / elapsed * 100
        result.worker_rss_mb = rss / 1e6
        result.mixed, result.hit_rate = _mixed_reads(assets)
        result.history = _history_drained(process)
    return result


def _assets() -> list[dict]:
    """Return every asset, page after page."""
    assets, cursor = [], ""
    while cursor is not None:
        page = requests.get(f"{stack.BASE}/assets?limit=1000&cursor={cursor}", timeout=30).json()
        assets.extend(page["assets"])
        cursor = page["next_cursor"]
    return assets


def _sample(assets: list[dict]) -> list[str]:
    enabled = [asset for asset in assets if asset["enabled"]]
    cold = [asset["symbol"] for asset in enabled if asset["tier"] == "cold"]
    warm = [asset["symbol"] for asset in enabled if asset["tier"] != "cold"]
    return warm + random.Random(42).sample(cold, min(COLD_SAMPLE, len(cold)))  # noqa: S311


def _all_priced(symbols: list[str]) -> bool:
    with requests.Session() as session:
        return all(len(_prices(session, batch)) == len(batch) for batch in _batches(symbols))


def _batches(symbols: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(symbols), stack.MAX_BATCH):
        yield symbols[start : start + stack.MAX_BATCH]


def _prices(session: requests.Session, batch: list[str]) -> list[dict]:
    url = f"{stack.BASE}/prices?assets={','.join(batch)}"
    return session.get(url, timeout=10).json()["prices"]


def _take(symbols: list[str], intervals: dict[str, float], result: Scale) -> None:
    """Read symbols' prices in batches; count those on time and keep the hot ones' ages."""
    with requests.Session() as session:
        for batch in _batches(symbols):
            try:
                prices = _prices(session, batch)
            except (requests.RequestException, ValueError, KeyError):
                prices = []
            result.sampled += len(batch)
            result.unanswered += len(batch) - len(prices)
            for price in prices:
                limit = intervals.get(price["tier"], 60.0) + 1
                on_time = price["age_seconds"] <= limit
                result.on_time += on_time
                result.late[price["tier"]] += not on_time
                if price["tier"] == "hot":
                    result.hot_ages.append(price["age_seconds"])


def _watch_backlog(result: Scale) -> None:
    samples = metrics.scrape()
    result.backlog_prices = max(result.backlog_prices, metrics.delta({}, samples, BACKLOG_PRICES))
    result.backlog_age = max(result.backlog_age, metrics.delta({}, samples, BACKLOG_AGE))


def _history_drained(process: subprocess.Popen) -> Counter[str]:
    """Pause the ticks until no refresh or drain ran for a few seconds and no price waits for
    history; return the prices handed to history by outcome (queued, stored, skipped,
    dropped)."""
    tickers = stack.processes(process.pid, "celery", "-Q beat")
    for ticker in tickers:
        ticker.suspend()
    try:
        deadline, before, after = time.monotonic() + DRAIN_SECONDS, None, _counts()
        while before != after or after[1]:
            if time.monotonic() > deadline:
                raise stack.StackError(f"the history backlog did not drain in {DRAIN_SECONDS} s")
            time.sleep(5)
            before, after = after, _counts()
    finally:
        for ticker in tickers:
            ticker.resume()
    return after[0]


def _counts() -> tuple[Counter[str], float]:
    # The history counters by outcome, the prices waiting, and the refreshes made.
    samples = metrics.scrape()
    outcomes = Counter(
        {
            dict(labels)["outcome"]: value
            for (name, labels), value in samples.items()
            if name == HISTORY_PRICES
        }
    )
    refreshes = metrics.delta({}, samples, "pricehub_refresh_seconds_count")
    return outcomes + Counter({"refreshes": refreshes}), metrics.delta({}, samples, BACKLOG_PRICES)


def _mixed_reads(assets: list[dict]) -> tuple[tools.Measurement, float]:
    by_tier: dict[str, list[str]] = {tier: [] for tier in MIXED_WEIGHTS}
    for asset in assets:
        if asset["enabled"] and len(by_tier[asset["tier"]]) < MIXED_ASSETS[asset["tier"]]:
            by_tier[asset["tier"]].append(asset["symbol"])
    before = metrics.scrape()
    with _paths_file(by_tier) as paths:
        measured = tools.wrk(
            f"{stack.BASE}/prices/BTCUSDT", connections=64, seconds=30, paths=paths
        )
    after = metrics.scrape()
    reads = {
        where: metrics.delta(before, after, "pricehub_price_reads_total", found_in=where)
        for where in ("cache", "history", "nowhere")
    }
    total = sum(reads.values())
    return measured, reads["cache"] / total if total else math.nan


@contextmanager
def _paths_file(by_tier: dict[str, list[str]]) -> Iterator[Path]:
    # One line a request path, each tier's assets repeated by its weight per asset.
    lines = []
    for tier, symbols in by_tier.items():
        per_asset = max(1, round(MIXED_WEIGHTS[tier] / max(len(symbols), 1)))
        lines += [f"/prices/{symbol}" for symbol in symbols for _ in range(per_asset)]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as file:
        file.write("\n".join(lines) + "\n")
    try:
        yield Path(file.name)
    finally:
        Path(file.name).unlink()


def _worker_usage(process: subprocess.Popen) -> tuple[float, int]:
    """Return the workers' CPU seconds so far and their memory (RSS) in bytes."""
    seconds, rss = 0.0, 0
    for worker in stack.processes(process.pid, "celery", " worker "):
        try:
            times = worker.cpu_times()
            seconds, rss = seconds + times.user + times.system, rss + worker.memory_info().rss
        except psutil.Error:
            continue
    return seconds, rss

"""`make bench`: load the read path of a running PriceHub and print a results table.

Uses the stack at BENCH_URL (default http://127.0.0.1:8080) when it answers; otherwise starts
`make run`'s stack for the run and stops it after. Requests are bounded in number and time and
go to loopback only. Load and server share this machine's cores, so the figures are a floor.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

BASE = os.environ.get("BENCH_URL", "http://127.0.0.1:8080")
THREADS = int(os.environ.get("BENCH_THREADS", "8"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
MAX_REQUESTS = 20_000  # per scenario, whatever the duration
BATCH = ["BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "ADA", "USDC", "TRX", "AVAX"]
SCENARIOS = [
    ("GET /prices/BTCUSDT", "/prices/BTCUSDT"),
    ("GET /prices?assets= (10)", "/prices?assets=" + ",".join(f"{b}USDT" for b in BATCH)),
    ("GET /prices/BTCUSDT/history", "/prices/BTCUSDT/history?limit=100"),
    ("GET /prices/BTCUSDT/candles", "/prices/BTCUSDT/candles?interval=1m"),
    ("GET /assets", "/assets"),
]  # fmt: skip


def main() -> None:
    with stack():
        print(f"PriceHub at {BASE}: {THREADS} client threads, {SECONDS:g} s per scenario\n")
        print(f"{'scenario':<30} {'requests':>8} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
              f"{'p99 ms':>7} {'errors':>6}")  # fmt: skip
        for name, path in SCENARIOS:
            print(_row(name, *_load(path)))
        print()
        print(_freshness())


def _load(path: str) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS

    def client() -> None:
        nonlocal errors
        session = requests.Session()
        while time.monotonic() < deadline and len(latencies) < MAX_REQUESTS:
            started = time.perf_counter()
            status = session.get(BASE + path, timeout=10).status_code
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                errors += status != 200

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.monotonic() - started


def _row(name: str, latencies: list[float], errors: int, elapsed: float) -> str:
    ms = sorted(latency * 1000 for latency in latencies)
    cuts = statistics.quantiles(ms, n=100)
    return (
        f"{name:<30} {len(ms):>8} {len(ms) / elapsed:>8.0f} {cuts[49]:>7.1f} {cuts[94]:>7.1f} "
        f"{cuts[98]:>7.1f} {errors:>6}"
    )


def _freshness() -> str:
    """Sample how old the served price of a hot asset is, once a second."""
    ages = []
    for _ in range(int(SECONDS)):
        ages.append(requests.get(f"{BASE}/prices/BTCUSDT", timeout=5).json()["age_seconds"])
        time.sleep(1)
    return (
        f"BTCUSDT (hot, 1 s) price age over {len(ages)} samples: "
        f"mean {statistics.fmean(ages):.2f} s, max {max(ages):.2f} s"
    )


@contextmanager
def stack() -> Iterator[None]:
    if _answers():
        yield
        return
    print("Starting the stack (make run's) for the benchmark ...", file=sys.stderr)
    process = subprocess.Popen(
        [sys.executable, "-m", "deploy.run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for_a_price()
        yield
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)


def _answers() -> bool:
    try:
        return requests.get(f"{BASE}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _wait_for_a_price(timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{BASE}/prices/BTCUSDT", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    sys.exit(f"no price at {BASE} after {timeout:g} s")


if __name__ == "__main__":
    main()

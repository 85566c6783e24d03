"""`make chaos`: faults against the stack it starts, and what PriceHub answered through them.

The stack is `make run`'s (deploy.run, the ten real assets, every published price due to
history), with its own Redis and DynamoDB Local, which this command starts, kills and starts
again. Through each scenario, readers ask GET /prices/{asset} for every asset and a watcher
notes every aggregation published (in Redis); after it, the history table is checked
against them. Prints the table and writes it to bench/results/chaos.md.

Columns: requests; 5xx; wrong (a 200 flagged fresh while older than its stale threshold);
history points due (every aggregation published), stored, lost (due, not stored) and
duplicated (stored but never published: a point stored twice, or one a newer price had
already replaced); seconds to recover (every asset fresh again, aggregated after the fault ended).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import requests

import deploy.run
from bench import stack
from bench.chaos_watch import Row, Watch, check_history, table
from deploy.services import ROOT, dynamodb_command, redis_command, wait_for_port
from mock_exchange_app import control

RESULTS = Path(__file__).resolve().parent / "results"
DATA = ROOT / "data" / "chaos"
REDIS_PORT, DYNAMODB_PORT = 6391, 8001
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/0"
DYNAMODB_URL = f"http://127.0.0.1:{DYNAMODB_PORT}"
VENUES = {name: f"http://127.0.0.1:{port}" for name, port in deploy.run.VENUES.items()}
FAULT_SECONDS = float(os.environ.get("CHAOS_FAULT_SECONDS", "20"))
SOAK_SECONDS = float(os.environ.get("CHAOS_SOAK_SECONDS", "600"))
RECOVER_SECONDS = 120.0
READERS = 4
# The stack's services, and every published price due to history, so that history must hold
# each aggregation seen.
STACK_ENV = {
    "REDIS_URL": REDIS_URL,
    "DYNAMODB_ENDPOINT_URL": DYNAMODB_URL,
    "HISTORY_HEARTBEAT_SECONDS": "0",
}


class Chaos:
    """The stack under test, with the Redis and DynamoDB Local it can kill."""

    def __init__(self) -> None:
        self.redis: subprocess.Popen | None = None
        self.dynamodb: subprocess.Popen | None = None
        self.process: subprocess.Popen | None = None
        self.assets: dict[str, str] = {}
        self.soak_note = ""

    def start_redis(self) -> None:
        (DATA / "redis").mkdir(parents=True, exist_ok=True)
        self.redis = _start(redis_command(REDIS_PORT, DATA / "redis"))
        wait_for_port(REDIS_PORT)

    def start_dynamodb(self) -> None:
        (DATA / "dynamodb").mkdir(parents=True, exist_ok=True)
        command = dynamodb_command(DYNAMODB_PORT, DATA / "dynamodb")
        self.dynamodb = _start(command, cwd=DATA / "dynamodb")
        wait_for_port(DYNAMODB_PORT, timeout=60)

    @contextmanager
    def running(self) -> Iterator[Chaos]:
        self.start_redis()
        self.start_dynamodb()
        try:
            with stack.running(assets=10, **STACK_ENV) as process:
                self.process = process
                stack.wait_until_priced(process)
                answer = requests.get(f"{stack.BASE}/assets", timeout=10).json()["assets"]
                self.assets = {a["symbol"]: a["tier"] for a in answer if a["enabled"]}
                yield self
        finally:
            _kill(self.redis)
            _kill(self.dynamodb)

    def scenario(self, name: str, fault: Callable[[], Iterator[str | None]]) -> Row:
        """Run readers and the watcher through fault (a generator: set up, yield, clean up);
        measure until every asset is fresh again; check the history."""
        watch, stop = Watch(self.assets, REDIS_URL), threading.Event()
        # The readers stop however the scenario ends, and never outlive the run (daemons): left
        # reading, they kept a run that had failed or was told to stop alive, asking a stopped
        # stack in a loop.
        targets = [watch.read] * READERS + [watch.watch, watch.watch_published]
        threads = [threading.Thread(target=target, args=(stop,), daemon=True) for target in targets]
        for thread in threads:
            thread.start()
        try:
            started = time.time()
            steps = fault()
            note = next(steps) or ""
            for _ in steps:  # the fault's own clean-up
                pass
            ended = time.time()
            recover = None
            while time.time() - ended < RECOVER_SECONDS:
                if watch.all_fresh_since(int(ended * 1000)):
                    recover = time.time() - ended
                    break
                time.sleep(0.2)
            time.sleep(2)  # the last aggregations seen reach the history
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        row = Row(name, watch.requests, watch.errors_5xx, watch.wrong, note=note)
        row.recover_seconds = recover
        first, last = int(started * 1000), int(time.time() * 1000) - 2000
        check_history(row, watch, first, last, dynamodb_url=DYNAMODB_URL)
        print(" | ".join(row.cells()), file=sys.stderr, flush=True)
        return row

    def venue_fault(self, venues: list[str], spec: dict) -> Callable[[], Iterator[str | None]]:
        def fault() -> Iterator[str | None]:
            for venue in venues:
                control.set_fault(VENUES[venue], "*", **spec)
            yield None
            time.sleep(FAULT_SECONDS)
            for venue in venues:
                control.clear_faults(VENUES[venue])

        return fault

    def redis_killed(self) -> Iterator[str | None]:
        _kill(self.redis)
        yield "SIGKILL, down 20 s, started again empty"
        time.sleep(20)
        self.start_redis()

    def dynamodb_killed(self) -> Iterator[str | None]:
        _kill(self.dynamodb)
        yield "SIGKILL, down 60 s, started again on its files"
        time.sleep(60)
        self.start_dynamodb()

    def worker_killed(self) -> Iterator[str | None]:
        (worker,) = self._stack("worker", "-Q hot")
        worker.send_signal(signal.SIGKILL)
        yield f"SIGKILL of pid {worker.pid}; make run starts it again"
        time.sleep(FAULT_SECONDS)

    def two_of_each(self) -> Iterator[str | None]:
        celery = [sys.executable, "-m", "celery", "-A", "pricehub"]
        env = dict(os.environ, **STACK_ENV)
        extra = [
            _start([*celery, "worker", "--pool", "threads", "-n", "chaos@%h"], env=env, cwd=ROOT),
            _start([*celery, "beat", "-s", str(DATA / "beat-2")], env=env, cwd=ROOT),
        ]
        try:
            yield "a second worker and a second beat"
            time.sleep(FAULT_SECONDS * 2)
        finally:
            for process in extra:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=30)

    def soak(self) -> Iterator[str | None]:
        before = self._usage()
        yield None
        chooser = random.Random(11)  # noqa: S311
        modes = [
            {"mode": "down"},
            {"mode": "slow", "delay": 3},
            {"mode": "garbage", "kind": "html"},
            {"mode": "stale", "age": 120},
            {"mode": "outlier", "factor": 1.05},
            {"mode": "drip", "rate": 8},
        ]
        ends = time.monotonic() + SOAK_SECONDS
        while time.monotonic() < ends:
            venue = VENUES[chooser.choice(list(VENUES))]
            control.set_fault(venue, "*", **chooser.choice(modes))
            time.sleep(min(15, max(0, ends - time.monotonic())))
            control.clear_faults(venue)
            time.sleep(min(5, max(0, ends - time.monotonic())))
        after = self._usage()
        self.soak_note = (
            f"RSS {before[0] / 1e6:.0f} -> {after[0] / 1e6:.0f} MB, "
            f"open files {before[1]} -> {after[1]}"
        )

    def _stack(self, *words: str) -> list[psutil.Process]:
        return stack.processes(self.process.pid, *words) if self.process else []

    def _usage(self) -> tuple[int, int]:
        """Return the RSS and open files of the web, worker and beat processes, added up."""
        rss = files = 0
        for process in self._stack("pricehub"):
            try:
                rss += process.memory_info().rss
                files += process.num_fds()
            except psutil.Error:
                continue
        return rss, files


def run() -> list[Row]:
    rows = []
    chaos = Chaos()
    with chaos.running():
        scenarios: list[tuple[str, Callable[[], Iterator[str | None]]]] = [
            ("one venue down", chaos.venue_fault(["binance"], {"mode": "down"})),
            ("one venue slow", chaos.venue_fault(["binance"], {"mode": "slow", "delay": 5})),
            ("one venue dripping", chaos.venue_fault(["binance"], {"mode": "drip", "rate": 8})),
            ("one venue garbage", chaos.venue_fault(["kraken"], {"mode": "garbage"})),
            ("one venue stale", chaos.venue_fault(["coinbase"], {"mode": "stale", "age": 120})),
            ("one venue outlier", chaos.venue_fault(["kraken"], {"mode": "outlier"})),
            ("all venues down", chaos.venue_fault(list(VENUES), {"mode": "down"})),
            ("Redis killed for 20 s", chaos.redis_killed),
            ("DynamoDB killed for 60 s", chaos.dynamodb_killed),
            ("worker SIGKILL", chaos.worker_killed),
            ("two workers and two beats", chaos.two_of_each),
        ]
        for name, fault in scenarios:
            rows.append(chaos.scenario(name, fault))
        soak = chaos.scenario(f"soak {SOAK_SECONDS / 60:g} min, random venue faults", chaos.soak)
        soak.note = chaos.soak_note
        rows.append(soak)
    return rows


def main() -> int:
    started = dt.datetime.now(dt.UTC)
    rows = run()
    text = table(rows)
    clean = all(
        r.errors_5xx == 0 and r.wrong == 0 and r.lost == 0 and not r.duplicated for r in rows
    )
    verdict = "PASS" if clean else "MISS"
    summary = f"{verdict}  0 5xx, 0 wrong answers, 0 lost and 0 duplicated history points"
    print(f"\n{text}\n\n{summary}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "chaos.md").write_text(
        f"# PriceHub chaos\n\n- date: {started:%Y-%m-%d %H:%M} UTC\n"
        f"- machine: {os.cpu_count()} cores\n\n{text}\n\n{summary}\n"
    )
    print(f"\nWrote {RESULTS / 'chaos.md'}")
    return 0 if clean else 1


def _start(command: list[str], **options: object) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **options
    )


def _kill(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()


if __name__ == "__main__":
    stack.exit_on_sigterm()
    sys.exit(main())

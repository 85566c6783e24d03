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
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import psutil
import redis
import requests

import deploy.run
from bench import stack
from deploy.services import ROOT, dynamodb_command, redis_command, wait_for_port
from mock_exchange_app import control

RESULTS = Path(__file__).resolve().parent / "results"
DATA = ROOT / "data" / "chaos"
REDIS_PORT, DYNAMODB_PORT = 6391, 8001
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/0"
DYNAMODB_URL = f"http://127.0.0.1:{DYNAMODB_PORT}"
VENUES = {name: f"http://127.0.0.1:{port}" for name, port in deploy.run.VENUES.items()}
TIER_SECONDS = {"hot": 1.0, "medium": 10.0, "cold": 60.0}
FAULT_SECONDS = float(os.environ.get("CHAOS_FAULT_SECONDS", "20"))
SOAK_SECONDS = float(os.environ.get("CHAOS_SOAK_SECONDS", "600"))
RECOVER_SECONDS = 120.0
READERS = 4
PRICE_KEY = "pricehub:1:price:"  # the published price records, as price_cache keys them
# The stack's services, and every published price due to history, so that history must hold
# each aggregation seen.
STACK_ENV = {
    "REDIS_URL": REDIS_URL,
    "DYNAMODB_ENDPOINT_URL": DYNAMODB_URL,
    "HISTORY_HEARTBEAT_SECONDS": "0",
}


@dataclass
class Row:
    """What one scenario measured."""

    scenario: str
    requests: int = 0
    errors_5xx: int = 0
    wrong: int = 0
    due: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    recover_seconds: float | None = None
    note: str = ""

    def cells(self) -> list[str]:
        recover = "-" if self.recover_seconds is None else f"{self.recover_seconds:.1f}"
        counts = [self.requests, self.errors_5xx, self.wrong, self.due, self.stored, self.lost]
        return [self.scenario, *map(str, [*counts, self.duplicated]), recover, self.note]


HEADER = [
    "scenario",
    "requests",
    "5xx",
    "wrong",
    "points due",
    "stored",
    "lost",
    "duplicated",
    "recover s",
    "note",
]


@dataclass
class Watch:
    """Readers and the publish watcher of one scenario."""

    assets: dict[str, str]  # symbol -> tier
    requests: int = 0
    errors_5xx: int = 0
    wrong: int = 0
    published: dict[str, set[int]] = field(default_factory=dict)  # symbol -> epoch ms
    latest: dict[str, dict] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, stop: threading.Event) -> None:
        symbols = list(self.assets)
        with requests.Session() as session:
            while not stop.is_set():
                symbol = random.choice(symbols)  # noqa: S311
                try:
                    answer = session.get(f"{stack.BASE}/prices/{symbol}", timeout=10)
                except requests.RequestException:
                    with self.lock:
                        self.requests += 1
                        self.errors_5xx += 1  # no answer at all counts with the 5xx
                    continue
                wrong = answer.status_code == 200 and self._wrong(answer.json())
                with self.lock:
                    self.requests += 1
                    self.errors_5xx += answer.status_code >= 500
                    self.wrong += wrong

    def _wrong(self, price: dict) -> bool:
        threshold = max(5.0, 3 * TIER_SECONDS[price["tier"]])
        return not price["stale"] and price["age_seconds"] > threshold

    def watch(self, stop: threading.Event) -> None:
        """Keep the API's latest answer for each asset, for the recovery check."""
        query = f"{stack.BASE}/prices?assets={','.join(self.assets)}"
        with requests.Session() as session:
            while not stop.wait(0.1):
                try:
                    prices = session.get(query, timeout=10).json()["prices"]
                except (requests.RequestException, ValueError, KeyError):
                    continue
                for price in prices:
                    self.latest[price["asset"]] = price

    def watch_published(self, stop: threading.Event) -> None:
        """Note every aggregation published, from Redis itself every 20 ms: the API's answers
        can miss one that a refresh replaced within a read's own cache time."""
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
        symbols = list(self.assets)
        keys = [f"{PRICE_KEY}{symbol}" for symbol in symbols]
        while not stop.wait(0.02):
            try:
                records = client.mget(keys)
            except redis.RedisError:
                continue
            for symbol, record in zip(symbols, records, strict=True):
                if record is not None:
                    moment = json.loads(record)["timestamp"]
                    self.published.setdefault(symbol, set()).add(int(moment))

    def all_fresh_since(self, moment_ms: int) -> bool:
        return len(self.latest) == len(self.assets) and all(
            not price["stale"] and stack.epoch_ms(price["aggregated_at"]) > moment_ms
            for price in self.latest.values()
        )


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
        watch, stop = Watch(self.assets), threading.Event()
        threads = [threading.Thread(target=watch.read, args=(stop,)) for _ in range(READERS)]
        threads += [
            threading.Thread(target=watch.watch, args=(stop,)),
            threading.Thread(target=watch.watch_published, args=(stop,)),
        ]
        for thread in threads:
            thread.start()
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
        stop.set()
        for thread in threads:
            thread.join()
        row = Row(name, watch.requests, watch.errors_5xx, watch.wrong, note=note)
        row.recover_seconds = recover
        self._check_history(row, watch, int(started * 1000), int(time.time() * 1000) - 2000)
        print(" | ".join(row.cells()), file=sys.stderr, flush=True)
        return row

    def _check_history(self, row: Row, watch: Watch, first: int, last: int) -> None:
        _wait_for_pending()
        table = boto3.client(
            "dynamodb",
            endpoint_url=DYNAMODB_URL,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - DynamoDB Local takes any key
        )
        for symbol in self.assets:
            due = {ms for ms in watch.published.get(symbol, set()) if first <= ms <= last}
            stored = _stored(table, symbol, first, last)
            row.due += len(due)
            row.stored += len(due & set(stored))
            row.lost += len(due - set(stored))
            row.duplicated += len(set(stored) - due)

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
        yield "a second worker and a second beat"
        time.sleep(FAULT_SECONDS * 2)
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


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


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


def _wait_for_pending(timeout: float = 60) -> None:
    # Prices that waited for DynamoDB are stored by the history worker once it is back.
    client = redis.Redis.from_url(REDIS_URL)
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        try:
            if not any(client.xlen(key) for key in client.scan_iter("*history-pending*")):
                return
        except redis.RedisError:
            pass
        time.sleep(0.5)


def _stored(table, symbol: str, first: int, last: int) -> list[int]:
    request = {
        "TableName": "prices",
        "KeyConditionExpression": "asset = :asset AND #t BETWEEN :first AND :last",
        "ExpressionAttributeNames": {"#t": "timestamp"},
        "ExpressionAttributeValues": {
            ":asset": {"S": symbol},
            ":first": {"N": str(first)},
            ":last": {"N": str(last)},
        },
        "ProjectionExpression": "#t",
    }
    found = []
    for page in table.get_paginator("query").paginate(**request):
        found += [int(item["timestamp"]["N"]) for item in page["Items"]]
    return found


def _start(command: list[str], **options: object) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **options
    )


def _kill(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()


if __name__ == "__main__":
    sys.exit(main())

"""The stack under test: `make run`'s (deploy.run), started for the benchmark and stopped after."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import TypeVar

import psutil
import requests

import deploy.run
from deploy.run import FRONT_PORT, WEB_PORT
from deploy.services import ROOT

API_PORT = FRONT_PORT
BASE = f"http://127.0.0.1:{API_PORT}"
# The API's server's own address, where /readyz and /metrics answer (the front does not pass
# them).
INSIDE = f"http://127.0.0.1:{WEB_PORT}"
LOG = ROOT / "data" / "bench-stack.log"
# The bench's stack keeps its data apart from `make run`'s, and starts from nothing each time:
# what an earlier run left (the scale scenario's 10,000 assets in DynamoDB Local) would slow
# the next one's history reads and writes.
DATA = ROOT / "data" / "bench"
DATABASE_URL = f"sqlite:///{DATA / 'db.sqlite3'}"
MAX_BATCH = 50  # GET /prices?assets= takes at most 50 symbols

T = TypeVar("T")


class StackError(Exception):
    """The stack did not start, or not in time."""


def exit_on_sigterm() -> None:
    """Make a SIGTERM (a `kill`, a CI's timeout) exit the process as Ctrl-C does, through its
    `finally` blocks: the stack runs in sessions of its own, which outlive a process killed
    outright and hold its ports."""

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


@contextmanager
def running(*, assets: int, **env: str) -> Iterator[subprocess.Popen]:
    """Start deploy.run with `assets` simulated assets, DEBUG off and env added; SIGINT it at
    the end."""
    if _answers(API_PORT):
        raise StackError(
            "something already answers on 127.0.0.1:8080 (a `make run`?); stop it first: "
            "the benchmark measures only the stack it starts itself"
        )
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    env = dict(
        os.environ,
        SIM_ASSETS=str(assets),
        DEBUG="false",
        DATA_DIR=str(DATA),
        DATABASE_URL=DATABASE_URL,
        **env,
    )
    process = deploy.run.start(env, LOG)
    try:
        yield process
    finally:
        _stop(process)


def stop_group(process: subprocess.Popen, *, timeout: float) -> None:
    """Interrupt process and its session, as Ctrl-C would; kill them after timeout seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _stop(process: subprocess.Popen) -> None:
    # honcho starts each process in a session of its own, so remember them to check after.
    children = descendants(process.pid)
    stop_group(process, timeout=30)
    _, alive = psutil.wait_procs(children, timeout=10)
    for child in alive:
        print(f"bench: killing {child.pid}, left behind by the stack", file=sys.stderr)
        child.kill()


def wait_until_priced(process: subprocess.Popen) -> list[str]:
    """Wait for the enabled assets (up to 50) to have a price each; return their symbols."""
    until(process, 90, "GET /readyz to answer 200", _ready)
    symbols = until(process, 30, "GET /assets to list BTCUSDT", _enabled_symbols)
    query = f"{BASE}/prices?assets={','.join(symbols)}"
    what = f"a price for each of the {len(symbols)} assets"
    until(process, 120, what, lambda: _priced(query, len(symbols)))
    return symbols


def environment() -> dict[str, str]:
    """Return the environment of a command run against the stack: its own SQLite and DynamoDB,
    not those of `make run`."""
    return dict(
        os.environ,
        DATABASE_URL=DATABASE_URL,
        DYNAMODB_ENDPOINT_URL=deploy.run.dynamodb_endpoint(dict(os.environ)),
    )


def seed_history(process: subprocess.Popen, symbol: str, points: int) -> None:
    """Give symbol the history of a stack that has run for hours (bench/seed_history.py), then
    wait until a page of its history reads `points` of it: from its next recorded point on."""
    command = [sys.executable, "-m", "bench.seed_history", symbol]
    env = environment()
    done = subprocess.run(  # noqa: S603
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise StackError(f"bench.seed_history failed: {(done.stdout + done.stderr)[-1000:]}")
    page = f"{BASE}/prices/{symbol}/history?limit={points}"
    what = f"{symbol}'s history to read {points} points"
    until(process, 120, what, lambda: len(requests.get(page, timeout=5).json()["points"]) >= points)


def _ready() -> bool:
    return requests.get(f"{INSIDE}/readyz", timeout=5).status_code == 200


def _enabled_symbols() -> list[str] | None:
    answer = requests.get(f"{BASE}/assets", timeout=5)
    if answer.status_code != 200:
        return None
    symbols = [asset["symbol"] for asset in answer.json()["assets"] if asset["enabled"]]
    # The hot scenarios read BTCUSDT, so the batch holds it too.
    if "BTCUSDT" not in symbols:
        return None
    symbols.remove("BTCUSDT")
    return ["BTCUSDT", *symbols[: MAX_BATCH - 1]]


def _priced(query: str, count: int) -> bool:
    answer = requests.get(query, timeout=5)
    return answer.status_code == 200 and len(answer.json()["prices"]) == count


def until(process: subprocess.Popen, timeout: float, what: str, probe: Callable[[], T]) -> T:
    """Return probe()'s first true answer, asked every half second; raise StackError when the
    stack exits or timeout seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"the stack exited ({process.returncode}); see {LOG}")
        try:
            found = probe()
        except (requests.RequestException, ValueError, KeyError):
            found = None
        if found:
            return found
        time.sleep(0.5)
    raise StackError(f"waited {timeout:g} s for {what}; see {LOG}")


def web_workers_rss(process: subprocess.Popen) -> dict[int, int]:
    """Return the RSS in bytes of each web worker process under the stack, by pid."""
    # The web's processes are those listening on its port behind the front (gunicorn's master
    # and workers, or Granian's workers); its workers are those of them with none beneath.
    web = [p for p in descendants(process.pid) if _listens(p, WEB_PORT)]
    parents = {p.ppid() for p in web}
    rss = {}
    for worker in web:
        if worker.pid not in parents:
            with suppress(psutil.NoSuchProcess):
                rss[worker.pid] = worker.memory_info().rss
    return rss


def listening(port: int) -> list[psutil.Process]:
    """Return the processes listening on port on this machine: a server's master and workers."""
    return [process for process in psutil.process_iter() if _listens(process, port)]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """Return the CPU time the processes have used so far, user and system."""
    total = 0.0
    for process in processes:
        with suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def _listens(process: psutil.Process, port: int) -> bool:
    try:
        sockets = process.net_connections(kind="tcp")
    except psutil.Error:
        return False
    return any(s.status == psutil.CONN_LISTEN and s.laddr.port == port for s in sockets)


def processes(pid: int, *words: str) -> list[psutil.Process]:
    """Return the Python processes under pid (not the shells and keepers that start them)
    whose command line holds every one of words."""
    found = []
    for child in descendants(pid):
        try:
            line = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if line.startswith(f"{sys.executable} -m ") and all(word in line for word in words):
            found.append(child)
    return found


def epoch_ms(moment: str) -> int:
    """Return an API time ("2026-11-25T12:00:00.250Z") in epoch milliseconds."""
    return int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp() * 1000)


def descendants(pid: int) -> list[psutil.Process]:
    """Return every process under pid."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@contextmanager
def sampling_ages(url: str, *, every: float = 0.2) -> Iterator[list[float | None]]:
    """Read age_seconds at url every `every` s over one plain connection; None for a failure."""
    ages: list[float | None] = []
    stop = threading.Event()

    def sample() -> None:
        started = time.monotonic()
        with requests.Session() as session:
            # On a fixed beat, so a slow answer does not thin out the samples after it.
            while not stop.wait(every - (time.monotonic() - started) % every):
                try:
                    answer = session.get(url, timeout=2)
                    ages.append(answer.json()["age_seconds"] if answer.status_code == 200 else None)
                except (requests.RequestException, ValueError, KeyError):
                    ages.append(None)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield ages
    finally:
        stop.set()
        thread.join()

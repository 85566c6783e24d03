"""`make run` (deploy/run.py) from nothing: each process starts once what it needs answers, so a
client reading through the front from the first moment gets its price and the log holds no
error, and Ctrl-C stops every process it started, each after those that need it, quietly."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import requests

import deploy.run
from deploy import lower
from deploy.services import free_port

# A traceback, a Python or Celery log line at ERROR or CRITICAL, nginx's [error] and worse,
# and a process that died (its keeper's line).
NOISE = re.compile(r"Traceback|\bERROR\b|CRITICAL|\[(error|crit|alert|emerg)\]|keep: exited")
FIRST_PRICE_SECONDS = 120  # a fresh stack on a busy 2-core machine: DynamoDB Local is slow


def stack_environment(tmp_path: Path) -> dict[str, str]:
    """Return the environment of a `make run` of its own: its folder, database and ports, with
    its own Redis and DynamoDB Local to start."""
    ports = {name: str(free_port()) for name in ("FRONT", "WEB", "STREAM", "DYNAMODB", "REDIS")}
    env = dict(
        os.environ,
        DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL=f"redis://127.0.0.1:{ports.pop('REDIS')}/0",
        DYNAMODB_IN_MEMORY="true",
        **{f"{name}_PORT": port for name, port in ports.items()},
        **{
            f"{venue.upper()}_URL": f"http://127.0.0.1:{free_port()}" for venue in deploy.run.VENUES
        },
    )
    env.pop("DYNAMODB_ENDPOINT_URL", None)
    return env


def first_price(front: str, run: subprocess.Popen, *, from_markets: bool = False) -> dict:
    """Ask the front for BTCUSDT's price every tenth of a second, from before it listens until
    it answers 200 (with every source from a market of a venue's catalogue, if from_markets);
    return the price."""
    deadline = time.monotonic() + FIRST_PRICE_SECONDS
    while time.monotonic() < deadline and run.poll() is None:
        try:
            answer = requests.get(f"{front}/prices/BTCUSDT", timeout=10)
        except requests.RequestException:
            answer = None  # nothing listens yet (the front starts last), or a busy machine
        if answer is not None and answer.status_code == 200:
            price = answer.json()
            if not from_markets or all(source["market"] for source in price["sources"]):
                return price
        time.sleep(0.1)
    pytest.fail(f"no price through the front after {FIRST_PRICE_SECONDS} s (exit {run.poll()})")


def left_behind(data: Path) -> list[str]:
    """Return the command lines of the processes still running with data as their DATA_DIR."""
    marker = f"DATA_DIR={data}"
    found = []
    for process in psutil.process_iter(["cmdline", "environ"]):
        environ = process.info["environ"] or {}
        if f"DATA_DIR={environ.get('DATA_DIR')}" == marker:
            found.append(" ".join(process.info["cmdline"] or []))
    return found


def priorities(data: Path) -> dict[str, set[tuple[int, int | None]]]:
    """Return the CPU priorities of the reads' servers ("reads"), of the work below them
    ("below") and of the simulated venues ("venues") in the stack with data as its DATA_DIR:
    each process's nice, and its session's (autogroup) where the kernel has them."""
    found: dict[str, set[tuple[int, int | None]]] = {
        "reads": set(),
        "below": set(),
        "venues": set(),
    }
    for process in psutil.process_iter(["cmdline", "environ", "nice"]):
        command = " ".join(process.info["cmdline"] or [])
        if (process.info["environ"] or {}).get("DATA_DIR") != str(data):
            continue
        if command.startswith("/bin/sh") or "deploy/keep.py" in command:
            continue  # a keeper and its shell, which only wait
        kinds = {
            "reads": "pricehub.wsgi" in command or command.startswith("nginx"),
            "below": "-m celery" in command or "pricehub.asgi" in command,
            "venues": "-m mock_exchange_app" in command,
        }
        kind = next((kind for kind, matches in kinds.items() if matches), None)
        if kind is None:
            continue
        autogroup = Path(f"/proc/{process.pid}/autogroup")
        session = int(autogroup.read_text().split()[-1]) if autogroup.exists() else None
        found[kind].add((process.info["nice"], session))
    return found


@pytest.mark.slow
def test_a_clean_start_logs_no_error_and_ctrl_c_stops_it_all(tmp_path: Path):
    env = stack_environment(tmp_path)
    front = f"http://127.0.0.1:{env['FRONT_PORT']}"
    log = tmp_path / "run.log"
    run = deploy.run.start(env, log)
    try:
        price = first_price(front, run)
        # The beat has the venues' catalogues read as it starts; refreshes then use them.
        from_markets = first_price(front, run, from_markets=True)
        with requests.get(f"{front}/stream?assets=BTCUSDT", stream=True, timeout=10) as stream:
            event = next(line for line in stream.iter_lines() if line.startswith(b"data: "))
        running = priorities(Path(env["DATA_DIR"]))
    finally:
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C, as a terminal sends it
        run.wait(timeout=30)
    assert price["asset"] == "BTCUSDT"
    assert {(s["exchange"], s["market"], s["quote"]) for s in from_markets["sources"]} == {
        ("binance", "BTCUSDT", "USDT"),
        ("binance", "BTCUSDC", "USDC"),
        ("coinbase", "BTC-USDT", "USDT"),
        ("coinbase", "BTC-USD", "USD"),
        ("kraken", "XBTUSDT", "USDT"),
        ("kraken", "XXBTZUSD", "USD"),
        ("okx", "BTC-USDT", "USDT"),
        ("okx", "BTC-USDC", "USDC"),
        ("bybit", "BTCUSDT", "USDT"),
        ("bybit", "BTCUSDC", "USDC"),
        ("bitstamp", "btcusdt", "USDT"),
        ("bitstamp", "btcusdc", "USDC"),
        ("bitstamp", "btcusd", "USD"),
        # The EUR books, excluded until an operator adds EURUSD.
        ("binance", "BTCEUR", "EUR"),
        ("coinbase", "BTC-EUR", "EUR"),
        ("kraken", "XXBTZEUR", "EUR"),
        ("okx", "BTC-EUR", "EUR"),
        ("bitstamp", "btceur", "EUR"),
    }
    assert b'"asset":"BTCUSDT"' in event.replace(b" ", b"")
    # The refreshes, ticks, history and streams below the reads, the simulated venues further
    # below; their sessions too.
    sessions = lower.AUTOGROUP.exists()
    below, simulated = deploy.run.BELOW_READS, deploy.run.SIMULATED
    assert running["below"] == {(below, below if sessions else None)}
    assert running["venues"] == {(simulated, simulated if sessions else None)}
    assert running["reads"] == {(0, 0 if sessions else None)}
    # The start, and the stop after Ctrl-C: Redis and DynamoDB Local stop after everyone else.
    written = log.read_text()
    assert "system   | SIGINT received" in written, f"deploy.run did not see the SIGINT: {log}"
    start, _, stop = written.partition("system   | SIGINT received")
    assert [line for line in start.splitlines() if NOISE.search(line)] == [], f"see {log}"
    assert [line for line in stop.splitlines() if NOISE.search(line)] == [], f"see {log}"
    assert left_behind(Path(env["DATA_DIR"])) == []


@pytest.mark.slow
def test_a_one_off_command_that_fails_stops_the_stack_with_one_line(tmp_path: Path, redis_url):
    # The migrations cannot open the database; the session's Redis answers, so none starts,
    # and DynamoDB Local is not started either.
    env = stack_environment(tmp_path) | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}",
        "REDIS_URL": redis_url,
        "DYNAMODB_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
    }
    log = tmp_path / "run.log"
    run = deploy.run.start(env, log)
    try:
        code = run.wait(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)
    assert code != 0
    written = log.read_text()
    assert "deploy.run: a one-off command failed; stopping" in written
    assert left_behind(Path(env["DATA_DIR"])) == []
    # Each stage stopped at its signal, the processes still waiting for what they need too:
    # none was left to run out its STAGE_SECONDS.
    stages = [
        int(hours) * 3600 + int(minutes) * 60 + int(seconds)
        for hours, minutes, seconds in re.findall(
            r"^(\d\d):(\d\d):(\d\d) system   \| stopping ", written, re.MULTILINE
        )
    ]
    took = [(later - earlier) % 86400 for earlier, later in itertools.pairwise(stages)]
    assert len(took) >= 4  # the front, its servers, the beat, the workers, the venues
    assert max(took) < deploy.run.STAGE_SECONDS

"""The history backlog: a refresh hands its prices over and never waits on DynamoDB; the
history worker records them, every one, none twice; the metrics show what waits."""

from __future__ import annotations

import importlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from aggregation import candles, price_cache, recent
from aggregation.candles import Candle
from aggregation.history import backlog, items, reads, store
from aggregation.services import price_refresh
from aggregation.tests import stack
from aggregation.tests.test_history_record import T0, point
from common import redis_store
from common.redis_store import keys
from deploy.services import ROOT, free_port

pytestmark = pytest.mark.usefixtures("stores", "venue_rows")
SEEDED = importlib.import_module("aggregation.migrations.0002_seed_assets").ASSETS


@pytest.fixture
def hung_dynamodb(settings) -> Iterator[str]:
    """Point the history at an address that takes connections and never answers, as a hung
    DynamoDB does; yield the endpoint it had."""
    endpoint = settings.DYNAMODB_ENDPOINT_URL
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{listener.getsockname()[1]}"
        yield endpoint


def test_a_refresh_publishes_while_dynamodb_hangs_and_its_point_lands_once_it_is_back(
    hung_dynamodb, settings, history_count
):
    started = time.monotonic()
    price = price_refresh(symbol="BTCUSDT")
    # Asking the hung DynamoDB anything takes its 5 s read timeout, twice.
    assert time.monotonic() - started < 5
    assert price_cache.latest_price("BTCUSDT") == price
    assert recent.pending_state()[0] == 1
    settings.DYNAMODB_ENDPOINT_URL = hung_dynamodb
    assert backlog.drain() == [price]
    assert (history_count("BTCUSDT"), recent.pending_state()) == (1, (0, None))


def test_a_drain_cut_short_after_storing_stores_nothing_twice_when_the_next_one_runs(
    history_count,
):
    backlog.add([point(0, "100"), point(0, "7", "ETHUSDT")])
    backlog.add([point(30, "103")])
    # A drain stored the first two, then its process died before forgetting them.
    first = [price for _, price in recent.pending(2)]
    assert store.record(first) == first
    assert backlog.drain() == [point(30, "103")]
    assert recent.pending_state() == (0, None)
    assert (history_count("BTCUSDT"), history_count("ETHUSDT")) == (2, 1)
    [one_minute] = reads.candles_between("BTCUSDT", "1m", T0, T0 + timedelta(minutes=1))
    assert one_minute == Candle(T0, *map(Decimal, ("100", "103", "100", "103")), points=2)


def test_a_waiting_price_that_cannot_be_read_is_dropped_and_the_others_are_stored(
    history_count, caplog
):
    backlog.add([point(0, "100")])
    unreadable = {"price": b'{"asset":"ETHUSDT","price":"not a number"}'}
    redis_store.connection().xadd(keys.history_pending(), unreadable)
    backlog.add([point(0, "7", "ETHUSDT")])
    assert [price.asset for price in backlog.drain()] == ["BTCUSDT", "ETHUSDT"]
    assert recent.pending_state() == (0, None)
    assert "Dropped a waiting price that cannot be read" in caplog.text


def stored_total() -> float:
    return REGISTRY.get_sample_value("pricehub_history_prices_total", {"outcome": "stored"}) or 0


def metrics() -> dict[str, float]:
    lines = APIClient().get("/metrics").content.decode().splitlines()
    return {
        name: float(value)
        for name, _, value in (line.partition(" ") for line in lines)
        if name.startswith("pricehub_history_backlog_")
    }


def test_a_drain_keeps_its_lock_while_it_lasts_and_knows_when_it_lost_it(settings):
    settings.PRICEHUB_HISTORY_DRAIN_LOCK_SECONDS = 1
    with recent.draining() as holds:
        for _ in range(3):  # rounds that last longer than the lock, in all
            time.sleep(0.6)
            assert holds()
            with recent.draining() as other:
                assert not other()
    with recent.draining() as holds:
        time.sleep(1.2)  # a round longer than the lock: another process takes it meanwhile
        with recent.draining() as other:
            assert other()
            assert not holds()


def test_the_metrics_show_how_many_prices_wait_and_for_how_long():
    assert metrics() == {
        "pricehub_history_backlog_prices": 0,
        "pricehub_history_backlog_age_seconds": 0,
    }
    backlog.add([point(0, "100"), point(0, "7", "ETHUSDT")])
    time.sleep(1.1)
    waiting = metrics()
    assert waiting["pricehub_history_backlog_prices"] == 2
    assert 1.0 <= waiting["pricehub_history_backlog_age_seconds"] < 30
    stored = stored_total()
    backlog.drain()
    assert stored_total() == stored + 2
    assert metrics() == {
        "pricehub_history_backlog_prices": 0,
        "pricehub_history_backlog_age_seconds": 0,
    }


def backlog_length(env: dict[str, str]) -> int:
    client = redis.Redis.from_url(env["REDIS_URL"])
    return sum(client.xlen(key) for key in client.scan_iter("*history-pending*"))


def one_minute_candles(env: dict[str, str]) -> dict[str, list[Candle]]:
    """Return each asset's 1m candles: those stored on their own, and its newest point's."""
    found: dict[str, dict[datetime, Candle]] = {}
    for item in stack.scan(env, f"{env['DYNAMODB_TABLE']}-candles"):
        symbol, _, interval = item["asset"]["S"].partition("#")
        if interval == "1m":
            candle = items.candle(item)
            found.setdefault(symbol, {})[candle.start] = candle
    newest: dict[str, tuple[int, dict]] = {}
    for item in stack.scan(env, env["DYNAMODB_TABLE"]):
        at = int(item["timestamp"]["N"])
        if at > newest.get(item["asset"]["S"], (0, {}))[0]:
            newest[item["asset"]["S"]] = (at, item)
    for symbol, (_, item) in newest.items():
        candle = candles.from_text(item["candles"]["S"])["1m"]
        found.setdefault(symbol, {})[candle.start] = candle
    return {symbol: list(by_start.values()) for symbol, by_start in found.items()}


def wait_until(what: str, done: object, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.django_db
def test_the_history_worker_records_every_published_price_once_after_an_outage_and_a_kill(
    stack_environment, tmp_path: Path
):
    env = stack_environment(redis_db=11, table="prices-history-worker", interval=1.0)
    # The killed worker may die holding the drain's lock: the next one drains once it expires.
    env["HISTORY_DRAIN_LOCK_SECONDS"] = "5"
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    refreshing, history_worker, beat = stack.celery("backlog", tmp_path)
    unreachable = env | {"DYNAMODB_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    refreshing_env = env | {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    with stack.running([(beat, env)]):
        # The history worker cannot reach DynamoDB while the others refresh and publish.
        with stack.running([(history_worker, unreachable)]) as (first,):
            with stack.running([(refreshing, refreshing_env)]):
                wait_until("30 refreshes", lambda: stack.refreshes(metrics_dir, "published") >= 30)
            assert stack.points(env) == {}
            first.send_signal(signal.SIGKILL)  # amid its failing drains
            first.wait(timeout=10)
        published = stack.refreshes(metrics_dir, "published")
        assert backlog_length(env) == published
        # Another history worker, which reaches DynamoDB, records every one of them.
        with stack.running([(history_worker, env)]):
            wait_until("the backlog to drain", lambda: backlog_length(env) == 0)
    points = stack.points(env)
    assert sum(len(times) for times in points.values()) == published
    # Every USDT asset was priced (the USD ones, once their rates are, may have been too).
    assert set(points) >= {f"{base}USDT" for base, _ in SEEDED}
    # Each point folded into its candles once: as many points in them as the asset has.
    for symbol, found in one_minute_candles(env).items():
        assert sum(candle.points for candle in found) == len(points[symbol]), symbol


@pytest.mark.slow
@pytest.mark.django_db
def test_a_history_worker_told_to_stop_ends_its_drain_after_a_round_and_loses_nothing(
    stack_environment, tmp_path: Path
):
    env = stack_environment(redis_db=12, table="prices-history-stop", interval=60)
    env |= {"HISTORY_DRAIN_ROUND": "5", "HISTORY_DRAIN_SECONDS": "60"}
    waiting = 500  # prices of as many assets, handed over as refreshes do
    hand_over = (
        "from aggregation.history import backlog;"
        "from aggregation.tests.test_history_record import point;"
        f"backlog.add([point(0, '100', f'T{{n}}USDT') for n in range({waiting})])"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", hand_over], env=env, check=True)
    _, history_worker, beat = stack.celery("stopping", tmp_path)
    log = tmp_path / "history-worker.log"
    with stack.running([(beat, env)]):
        with log.open("wb") as output:
            worker = subprocess.Popen(
                history_worker, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
            )
            try:
                wait_until("the first points", lambda: backlog_length(env) < waiting)
                worker.send_signal(signal.SIGTERM)  # as `make run` stops it: a warm shutdown
                assert worker.wait(timeout=20) == 0, log.read_text()
            finally:
                worker.kill()  # a no-op once it has stopped
                worker.wait()
        left = backlog_length(env)
        assert 0 < left < waiting, "the drain stopped after a round, before the end"
        assert sum(map(len, stack.points(env).values())) == waiting - left
        said = log.read_text()
        assert "Warm shutdown" in said
        for trouble in ("Traceback", "ERROR", "CRITICAL"):
            assert trouble not in said, said
        # The next history worker records the rest, none twice.
        with stack.running([(history_worker, env | {"HISTORY_DRAIN_ROUND": "500"})]):
            wait_until("the backlog to drain", lambda: backlog_length(env) == 0)
    assert sum(map(len, stack.points(env).values())) == waiting

"""Two worker processes and two beats, as on two hosts: every refresh done once, none missed."""

from __future__ import annotations

import importlib
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregation.tests import stack
from mock_exchange_app import control

# Every asset the migrations seed: the ten in USDT and the four in USD.
SEEDED = {
    f"{base}{quote}"
    for migration, quote in (("0002_seed_assets", "USDT"), ("0004_usd_assets", "USD"))
    for base, _ in importlib.import_module(f"aggregation.migrations.{migration}").ASSETS
}

INTERVAL = 2.0
SECONDS = 12.0
TABLE = "prices-two-workers"


@pytest.fixture
def stack_env(stack_environment, venues) -> Iterator[dict[str, str]]:
    """Every asset every INTERVAL: more calls than the venues' limits allow one address, so
    they are lifted here on both sides; this is about the schedule (the limits' own tests are
    in exchanges/tests/test_limits.py)."""
    for url in venues.values():
        control.set_limit(url, 1_000_000)
    yield stack_environment(redis_db=7, table=TABLE, interval=INTERVAL) | {"VENUE_LIMITS": "false"}
    for url in venues.values():
        control.reset_limits(url)


@pytest.fixture
def processes(stack_env: dict[str, str], tmp_path: Path) -> Iterator[list[Path]]:
    """Run two beats and two workers, each worker with its own metrics folder; yield those."""
    folders = [tmp_path / f"metrics-{n}" for n in (1, 2)]
    celery = stack.CELERY
    commands = [
        *(([*celery, "beat", "-s", str(tmp_path / f"schedule-{n}")], {}) for n in (1, 2)),
        *(
            (
                [*celery, "worker", "--pool", "threads", "-c", "4", "-n", f"w{n}@%h"],
                {"PROMETHEUS_MULTIPROC_DIR": str(folder)},
            )
            for n, folder in enumerate(folders, 1)
        ),
    ]
    for folder in folders:
        folder.mkdir()
    with stack.running([(command, stack_env | extra) for command, extra in commands]):
        yield folders


@pytest.mark.slow
@pytest.mark.django_db
def test_two_workers_and_beats_refresh_every_asset_once_an_interval_missing_none(
    processes, stack_env
):
    # Both workers at work first (a loaded machine starts them slowly), then the window.
    deadline = time.monotonic() + 60
    while not all(stack.refreshes(folder) > 0 for folder in processes):
        assert time.monotonic() < deadline, "a worker did no refresh"
        time.sleep(0.5)
    opened = time.time() * 1000
    time.sleep(SECONDS)
    found = {
        symbol: [moment for moment in times if moment >= opened]
        for symbol, times in stack.points(stack_env).items()
    }
    assert set(found) == SEEDED
    for symbol, times in found.items():
        gaps = [(later - earlier) / 1000 for earlier, later in itertools.pairwise(times)]
        # Once an interval: never twice within half of one, never a whole one skipped.
        assert min(gaps) > INTERVAL / 2, (symbol, gaps)
        assert max(gaps) < INTERVAL * 1.75, (symbol, gaps)
        assert len(times) >= SECONDS / INTERVAL - 2, (symbol, len(times))

"""A PriceHub stack of a test's own, as processes: its database, Redis database and table."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import psutil
from django.test import override_settings
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from aggregation.history.client import ensure_tables
from deploy.services import ROOT, free_port, front_command, wait_until
from mock_exchange_app import market

CELERY = [sys.executable, "-m", "celery", "-A", "pricehub"]
PORT_TRIES = 3


def environment(
    tmp_path: Path,
    *,
    database: Path,
    redis_url: str,
    redis_db: int,
    dynamodb_endpoint: str,
    table: str,
    venues: dict[str, str],
    interval: float,
) -> dict[str, str]:
    """Return the environment of a stack refreshing every asset each interval, its database a
    copy of database (migrated), its history tables made and its Redis database empty."""
    shutil.copyfile(database, tmp_path / "db.sqlite3")
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL=redis_url.rsplit("/", 1)[0] + f"/{redis_db}",
        DYNAMODB_ENDPOINT_URL=dynamodb_endpoint,
        DYNAMODB_TABLE=table,
        REFRESH_HOT_SECONDS=str(interval),
        REFRESH_MEDIUM_SECONDS=str(interval),
        REFRESH_COLD_SECONDS=str(interval),
        HISTORY_HEARTBEAT_SECONDS="0",  # every refresh leaves a point
        **_venue_urls(venues),
        LOG_LEVEL="WARNING",
    )
    with override_settings(DYNAMODB_ENDPOINT_URL=dynamodb_endpoint, DYNAMODB_TABLE=table):
        ensure_tables()
    subprocess.run(
        ["redis-cli", "-u", env["REDIS_URL"], "flushdb"], check=True, capture_output=True
    )
    return env


def migrated(folder: Path, venues: dict[str, str]) -> Path:
    """Return a database in folder with every migration applied, the venues' rows at the URLs
    of venues, for stacks to copy: a copy costs a stack no process of its own."""
    database = folder / "db.sqlite3"
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{database}", **_venue_urls(venues))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    return database


def _venue_urls(venues: dict[str, str]) -> dict[str, str]:
    # The settings that name each venue's URL (PRICEHUB_SEED_VENUES and the adapters').
    return {f"{kind.upper()}_URL": url for kind, url in venues.items()}


def celery(name: str, directory: Path) -> list[list[str]]:
    """Return the command lines of a stack's Celery processes, as `make run` has them: a worker
    of the refreshes, the worker that records history, and the beat (its schedule file in
    directory)."""
    worker = [*CELERY, "worker", "--pool", "threads", "-c", "4", "-n", f"{name}@%h"]
    return [
        [*worker, "-Q", "beat,hot,medium,celery"],
        [*CELERY, "worker", "-Q", "history", "--pool", "solo", "-n", f"{name}-history@%h"],
        [*CELERY, "beat", "-s", str(directory / f"{name}-schedule")],
    ]


def refreshes(folder: Path, outcome: str | None = None) -> float:
    """Return how many refreshes the processes with metrics in folder made (of outcome)."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(folder))
    return sum(
        sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == "pricehub_refresh_seconds_count"
        and outcome in (None, sample.labels["outcome"])
    )


def points(env: dict[str, str]) -> dict[str, list[int]]:
    """Return the times (epoch ms) of every point in the stack's table, by asset, in order."""
    found: dict[str, list[int]] = {}
    for item in scan(env, env["DYNAMODB_TABLE"]):
        found.setdefault(item["asset"]["S"], []).append(int(item["timestamp"]["N"]))
    return {symbol: sorted(times) for symbol, times in found.items()}


def scan(env: dict[str, str], table: str) -> Iterator[dict[str, Any]]:
    """Yield every item of one of the stack's tables."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=env["DYNAMODB_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    for page in client.get_paginator("scan").paginate(TableName=table):
        yield from page["Items"]


@contextmanager
def running(
    commands: list[tuple[list[str], dict[str, str]]],
) -> Iterator[list[subprocess.Popen]]:
    """Run each command in its environment until the block ends; yield their processes."""
    started = [
        subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        for command, env in commands
    ]
    try:
        yield started
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=20)


def venue_command(kind: str) -> Callable[[int], list[str]]:
    """Return the command line of a simulated venue of kind, given its port."""
    return lambda port: [sys.executable, "-m", "mock_exchange_app", kind, "--port", str(port)]


@contextmanager
def venues(env: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """Serve the six simulated venues in env, each in its own process; map each kind to its
    base URL."""
    with ExitStack() as started:
        yield {
            kind: started.enter_context(serving(venue_command(kind), env)).url
            for kind in market.VENUES
        }


class Served(NamedTuple):
    """A server of a test's own: its process, and the loopback port it listens on."""

    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def serving(
    command: Callable[[int], list[str]],
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 30.0,
    cwd: Path = ROOT,
    **popen: Any,
) -> Iterator[Served]:
    """Start command(port) on a free port (env, else this process's environment; popen, more
    arguments of Popen); yield it once its process listens on that port, and stop it after.
    A port another process bound first, between its choice and the bind (another test
    worker's server, say), is given up for a new one: a test never talks to a server it did
    not start."""
    popen = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, **popen}
    for _ in range(PORT_TRIES):
        port = free_port()
        process = subprocess.Popen(command(port), cwd=cwd, env=env, **popen)
        try:
            wait_until(functools.partial(_settled, process, port), f"port {port}", timeout)
            if process.poll() is None:
                yield Served(port, process)
                return
        finally:
            process.terminate()
            process.wait(timeout=20)
    raise RuntimeError(
        f"{command(0)[0]} ended before it listened, {PORT_TRIES} times (last exit code "
        f"{process.returncode}): each port taken first, or the command failing"
    )


def _settled(process: subprocess.Popen, port: int) -> bool:
    # The process (or a child of it) listens on port, or it has ended: the port was taken.
    if process.poll() is not None:
        return True
    try:
        parent = psutil.Process(process.pid)
        family = [parent, *parent.children(recursive=True)]
        connections = [c for member in family for c in member.net_connections(kind="tcp")]
    except psutil.NoSuchProcess:
        return False  # it ended as it was asked: the next look sees it
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections)


@contextmanager
def front(env: dict[str, str], directory: Path) -> Iterator[str]:
    """Serve the API and the stream as `make run` does: Granian's WSGI and ASGI servers (one
    worker each) behind the front (nginx), its access log in directory, its limits and lists
    from env; yield the front's URL."""
    granian = [sys.executable, "-m", "granian", "--host", "127.0.0.1", "--workers", "1"]

    def server(interface: str, app: str) -> Callable[[int], list[str]]:
        return lambda port: [*granian, "--interface", interface, "--port", str(port), app]

    with ExitStack() as started:
        web = started.enter_context(serving(server("wsgi", "pricehub.wsgi:application"), env))
        stream = started.enter_context(serving(server("asginl", "pricehub.asgi:application"), env))

        def nginx(port: int) -> list[str]:
            addresses = (f"127.0.0.1:{p}" for p in (port, web.port, stream.port))
            return front_command(*addresses, directory, env)

        yield started.enter_context(serving(nginx, env)).url

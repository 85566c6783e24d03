"""Real services for the integration tests: Redis, DynamoDB Local and the six venues.

Each is the one named by the environment (REDIS_URL, DYNAMODB_ENDPOINT_URL) when given,
otherwise started here on a free loopback port and stopped after the session. Each
pytest-xdist worker has its own: services it starts, or a Redis database and a table of its
own in those given.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from django.http import HttpResponse
from django.test import override_settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from aggregation.tests import stack
from deploy.services import (
    dynamodb_command,
    redis_answers,
    redis_command,
)

# The properties run beside the session's services and another test worker: a slow draw or
# example is the machine's, never the property's, so time is no verdict here.
hypothesis_settings.register_profile(
    "pricehub", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("pricehub")

WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
TEST_TABLE = f"prices-test-{WORKER}"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the slow tests first, so that the test processes end together instead of one
    running the last long test alone. pytest-django then orders the tests by their use of the
    database, keeping this order within each kind."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("REDIS_URL")
    if given and redis_answers(given):
        yield urlsplit(given)._replace(path=f"/{WORKER}").geturl()
        return
    folder = tmp_path_factory.mktemp("redis")
    with stack.serving(lambda port: redis_command(port, folder)) as redis:
        yield f"redis://127.0.0.1:{redis.port}/0"


@pytest.fixture(scope="session")
def dynamodb_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("DYNAMODB_ENDPOINT_URL")
    if given:
        yield given
        return
    # DynamoDB Local writes a metadata file into its working directory, even in memory.
    workdir = tmp_path_factory.mktemp("dynamodb")

    def command(port: int) -> list[str]:
        return dynamodb_command(port, db_path=None, brief=True)

    with stack.serving(command, timeout=60, cwd=workdir) as dynamodb:
        yield dynamodb.url


@pytest.fixture(scope="session")
def venues(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Serve the six simulated venues over HTTP, sharing one market control; map each kind
    to its base URL."""
    shared = str(tmp_path_factory.mktemp("sim") / "market.json")
    env = dict(os.environ, SIM_FAULTS="true", SIM_MARKET_FILE=shared)  # the tests' faults
    with stack.venues(env) as served:
        yield served


@pytest.fixture(scope="session")
def stack_environment(
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
    dynamodb_endpoint: str,
    venues: dict[str, str],
) -> Callable[..., dict[str, str]]:
    """Make the environment of a stack of its own on the session's services (see
    aggregation/tests/stack.py): its Redis database, table and refresh interval; each in a
    folder of its own, so fixtures of any scope may make one."""

    database = stack.migrated(tmp_path_factory.mktemp("migrated"), venues)

    def make(*, redis_db: int, table: str, interval: float) -> dict[str, str]:
        return stack.environment(
            tmp_path_factory.mktemp("stack"),
            database=database,
            redis_url=redis_url,
            redis_db=redis_db,
            dynamodb_endpoint=dynamodb_endpoint,
            table=table,
            venues=venues,
            interval=interval,
        )

    return make


@pytest.fixture(scope="session")
def services(redis_url: str, dynamodb_endpoint: str) -> Iterator[None]:
    """Point the cache, the broker and the history at the real test services."""
    from django.conf import settings

    from pricehub.celery import celery_app

    caches = {"default": {**settings.CACHES["default"], "LOCATION": redis_url}}
    caches["default"]["KEY_PREFIX"] = "pricehub-test"
    # Every read asks Redis and the database, so a test sees its own writes at once.
    overrides = override_settings(
        CACHES=caches,
        DYNAMODB_ENDPOINT_URL=dynamodb_endpoint,
        DYNAMODB_TABLE=TEST_TABLE,
        PRICEHUB_READ_COPY_SECONDS=0,
        PRICEHUB_HISTORY_COPY_SECONDS=0,
        PRICEHUB_ASSET_TABLE_SECONDS=0,
        PRICEHUB_DEMAND_FLUSH_SECONDS=0,
    )
    overrides.enable()
    celery_app.conf.broker_url = redis_url
    yield
    overrides.disable()


@pytest.fixture
def stores(services: None) -> Iterator[None]:
    """Start each test with no cached price and no history."""
    from django.core.cache import cache

    from aggregation.history import client

    client.ensure_tables()
    cache.delete_pattern("*")
    _empty_history()
    yield
    cache.delete_pattern("*")


class LeanReadsClient(APIClient):
    """An APIClient whose requests meet the WSGI entry point's lean reads first, as served."""

    def request(self, **request: Any) -> HttpResponse:
        from aggregation.api import reads

        response = reads.serve(self._base_environ(**{**request, **self._credentials}))
        if response is None:
            return super().request(**request)
        response.json = functools.partial(self._parse_json, response)
        return response


@pytest.fixture
def api() -> APIClient:
    """A client of the API as a WSGI server runs it: the lean reads, then Django."""
    return LeanReadsClient()


@pytest.fixture
def worker(services: None) -> Iterator[None]:
    """A real Celery worker in a thread, consuming from the real Redis broker (its tests read
    committed rows: transactional_db)."""
    from celery.contrib.testing.worker import start_worker

    from pricehub.celery import celery_app

    with start_worker(celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
        yield


@pytest.fixture
def seeded_assets(db: None) -> None:
    """The ten seeded assets, which a transactional test before this one may have flushed."""
    from django.apps import apps

    importlib.import_module("aggregation.migrations.0002_seed_assets").seed(apps, None)


@pytest.fixture
def venue_rows(db: None, venues: dict[str, str]) -> None:
    """Point the Exchange rows at the running venues, whose limits count from nothing, as
    PriceHub's budgets in a test's fresh Redis do."""
    from exchanges.models import Exchange
    from mock_exchange_app import control

    for kind, url in venues.items():
        Exchange.objects.update_or_create(
            name=kind, defaults={"kind": kind, "base_url": url, "enabled": True}
        )
        control.reset_limits(url)


@pytest.fixture
def history_count(stores: None) -> Callable[[str], int]:
    """Count the history points of a symbol, straight from DynamoDB."""

    def count(symbol: str) -> int:
        return _dynamodb().query(
            TableName=TEST_TABLE,
            KeyConditionExpression="asset = :asset",
            ExpressionAttributeValues={":asset": {"S": symbol}},
            Select="COUNT",
        )["Count"]

    return count


@pytest.fixture
def dynamodb(services: None) -> Any:
    """A client of the tests' DynamoDB of its own, beside PriceHub's."""
    return _dynamodb()


def _dynamodb() -> Any:
    from django.conf import settings

    return boto3.client(
        "dynamodb",
        endpoint_url=settings.DYNAMODB_ENDPOINT_URL,
        region_name=settings.AWS_REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _empty_history() -> None:
    client = _dynamodb()
    for table in (TEST_TABLE, f"{TEST_TABLE}-candles"):
        for page in client.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                key = {"asset": item["asset"], "timestamp": item["timestamp"]}
                client.delete_item(TableName=table, Key=key)

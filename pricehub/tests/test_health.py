from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from aggregation.tests import stack
from deploy.services import redis_command
from pricehub.celery import celery_app


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def own_redis(services: None, redis_url: str, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """Point the cache and the broker at a throwaway Redis, leaving the session's alone."""
    with stack.serving(lambda port: redis_command(port, tmp_path)) as redis:
        url = f"redis://127.0.0.1:{redis.port}/0"
        caches = {"default": {**settings.CACHES["default"], "LOCATION": url}}
        try:
            with override_settings(CACHES=caches):
                celery_app.conf.broker_url = url
                yield redis.process
        finally:
            celery_app.conf.broker_url = redis_url
            redis.process.kill()  # a stopped one, too


def test_healthz_says_the_process_is_up(api):
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_when_redis_dynamodb_and_the_broker_answer(api, services):
    response = api.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"redis": "ok", "dynamodb": "ok", "broker": "ok"},
    }


def test_readyz_names_redis_when_redis_is_stopped(api, own_redis):
    own_redis.terminate()
    own_redis.wait(timeout=10)
    response = api.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["error"] == "not_ready"
    assert body["detail"] == "PriceHub cannot reach redis, broker."
    assert body["checks"] == {"redis": "failed", "dynamodb": "ok", "broker": "failed"}


def test_readyz_logs_why_a_check_failed_and_never_answers_it(api, own_redis, caplog):
    port = own_redis.args[own_redis.args.index("--port") + 1]
    own_redis.terminate()
    own_redis.wait(timeout=10)
    response = api.get("/readyz")
    assert response.status_code == 503
    assert port not in response.content.decode()
    failures = {record.getMessage(): record.exc_info for record in caplog.records}
    assert port in str(failures["Readiness: redis failed"][1])


def test_readyz_names_dynamodb_when_a_table_is_missing_that_it_may_not_create(api, services):
    table = f"prices-never-made-{uuid.uuid4().hex[:12]}"
    with override_settings(DYNAMODB_TABLE=table, PRICEHUB_DYNAMODB_CREATE_TABLES=False):
        response = api.get("/readyz")
    checks = response.json()["checks"]
    assert response.status_code == 503
    assert checks["dynamodb"] != "ok"
    assert checks["redis"] == "ok"


def test_readyz_gives_up_on_a_hung_redis_within_two_seconds(api, own_redis):
    # A stopped process still accepts connections (the kernel does) but never answers.
    own_redis.send_signal(signal.SIGSTOP)
    started = time.monotonic()
    response = api.get("/readyz")
    elapsed = time.monotonic() - started
    checks = response.json()["checks"]
    assert response.status_code == 503
    assert checks["redis"] in {"failed", "timed out"}
    assert checks["dynamodb"] == "ok"
    assert elapsed < 2.5

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from aggregation.services import price_refresh
from aggregation.tasks import refresh_batch
from aggregation.tests import stack
from deploy.services import ROOT
from exchanges.circuits import breaker, circuit_close
from pricehub.celery import celery_app


def tasks_counted(task: str, outcome: str) -> float:
    labels = {"task": task, "outcome": outcome}
    return REGISTRY.get_sample_value("pricehub_celery_tasks_total", labels) or 0.0


@pytest.mark.django_db
def test_metrics_counts_and_times_each_answer_by_view_method_and_status():
    client = APIClient()
    client.get("/healthz")
    client.get("/no-such-page")
    body = client.get("/metrics").content.decode()
    assert 'pricehub_http_answers_total{method="GET",status="200",view="healthz"}' in body
    assert 'pricehub_http_answers_total{method="GET",status="404",view="<unresolved>"}' in body
    assert 'pricehub_http_request_seconds_count{method="GET",view="healthz"}' in body


@pytest.mark.usefixtures("stores", "venue_rows")
def test_metrics_exports_the_refresh_durations_of_pricehub():
    price_refresh(symbol="BTCUSDT")
    response = APIClient().get("/metrics")
    assert 'pricehub_refresh_seconds_count{outcome="published"}' in response.content.decode()


@pytest.mark.usefixtures("db", "stores")
def test_metrics_counts_the_messages_waiting_in_each_celery_queue():
    with celery_app.connection_for_write() as connection:
        celery_app.control.purge(connection=connection)
        for _ in range(3):
            celery_app.send_task(
                "aggregation.tasks.refresh_batch",
                args=[["NOPEUSDT"], 10.0],
                queue="medium",
                connection=connection,
            )
        try:
            body = APIClient().get("/metrics").content.decode()
        finally:
            celery_app.control.purge(connection=connection)
    assert 'pricehub_celery_queue_messages{queue="medium"} 3.0' in body
    assert 'pricehub_celery_queue_messages{queue="hot"} 0.0' in body


@pytest.mark.usefixtures("db", "stores")
def test_a_task_run_counts_as_a_success():
    before = tasks_counted("aggregation.tasks.refresh_batch", "success")
    refresh_batch.apply(args=(["NOPEUSDT"], 1.0))
    assert tasks_counted("aggregation.tasks.refresh_batch", "success") == before + 1


@pytest.mark.usefixtures("db", "stores")
def test_a_task_that_raises_counts_as_a_failure():
    before = tasks_counted("aggregation.tasks.refresh_batch", "failure")
    refresh_batch.apply(args=(), kwargs={})  # missing its symbols: a TypeError in the task
    assert tasks_counted("aggregation.tasks.refresh_batch", "failure") == before + 1


def run_python(code: str, multiproc_dir: Path) -> str:
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="pricehub.settings",
        PROMETHEUS_MULTIPROC_DIR=str(multiproc_dir),
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.mark.slow
def test_metrics_add_up_the_samples_of_every_process_sharing_a_multiprocess_dir(tmp_path):
    worker = (
        "import django; django.setup()\n"
        "from celery.signals import task_success\n"
        "from aggregation.tasks import refresh_batch\n"
        "task_success.send(sender=refresh_batch, result=None)\n"
    )
    web = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "print(Client().get('/metrics').content.decode())\n"
    )
    run_python(worker, tmp_path)
    run_python(worker, tmp_path)
    sample = 'pricehub_celery_tasks_total{outcome="success",task="aggregation.tasks.refresh_batch"}'
    assert f"{sample} 2.0" in run_python(web, tmp_path).splitlines()


@pytest.mark.usefixtures("stores", "venue_rows")
def test_metrics_show_each_venues_circuit_state_as_redis_holds_it():
    breaker("kraken").open()
    try:
        lines = APIClient().get("/metrics").content.decode().splitlines()
    finally:
        circuit_close("kraken")
    assert 'pricehub_venue_circuit_state{exchange="kraken",state="open"} 1.0' in lines
    assert 'pricehub_venue_circuit_state{exchange="kraken",state="closed"} 0.0' in lines
    assert 'pricehub_venue_circuit_state{exchange="binance",state="closed"} 1.0' in lines


@pytest.mark.slow
def test_a_worker_given_a_metrics_port_serves_its_metrics_there(stack_environment):
    env = stack_environment(redis_db=9, table="prices-worker-metrics", interval=60)
    worker = [*stack.CELERY, "worker", "--pool", "threads"]
    # The port is in the worker's environment: `env` puts it there and becomes the worker.
    with stack.serving(lambda port: ["env", f"WORKER_METRICS_PORT={port}", *worker], env) as served:
        page = requests.get(f"{served.url}/metrics", timeout=5).text
    assert "# TYPE pricehub_refresh_seconds histogram" in page
    assert "# TYPE pricehub_celery_tasks_total counter" in page

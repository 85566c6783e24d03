"""Count every Celery task's outcome in pricehub_celery_tasks_total, wherever it ran; serve a
worker's metrics over HTTP when WORKER_METRICS_PORT asks for it."""

from __future__ import annotations

from typing import Any

from celery import Task
from celery.signals import task_failure, task_retry, task_revoked, task_success, worker_ready
from django.conf import settings

from common import metrics
from common.metrics import CELERY_TASKS


@task_success.connect
def count_success(sender: Task | None = None, **kwargs: Any) -> None:
    """Count a task that returned."""
    _count(sender, "success")


@task_failure.connect
def count_failure(sender: Task | None = None, **kwargs: Any) -> None:
    """Count a task that raised, hit its hard time limit or lost its worker process."""
    _count(sender, "failure")


@task_retry.connect
def count_retry(sender: Task | None = None, **kwargs: Any) -> None:
    """Count a task that asked to be retried."""
    _count(sender, "retry")


@task_revoked.connect
def count_revoked(sender: Task | None = None, *, expired: bool = False, **kwargs: Any) -> None:
    """Count a task revoked, or dropped unrun because its `expires` passed."""
    # The beat tick queues refreshes with `expires`, so "expired" counts superseded refreshes.
    _count(sender, "expired" if expired else "revoked")


def _count(task: Task | None, outcome: str) -> None:
    CELERY_TASKS.labels(task=getattr(task, "name", "unknown"), outcome=outcome).inc()


@worker_ready.connect
def serve_metrics(**kwargs: Any) -> None:
    """Serve this host's metrics for Prometheus, where no web process on the host does (a
    worker container of its own)."""
    if settings.PRICEHUB_WORKER_METRICS_PORT:
        metrics.serve(settings.PRICEHUB_WORKER_METRICS_PORT)

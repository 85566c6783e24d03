"""Gunicorn settings for `make run`: the Prometheus multiprocess clean-up of exited workers."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import multiprocess


def child_exit(server: Any, worker: Any) -> None:
    """Drop an exited worker's live gauges, so /metrics stops showing a dead process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)

"""The Celery application: configured from Django settings prefixed CELERY_."""

from __future__ import annotations

import os

from celery import Celery

# Connects the task-outcome counters in every process that loads the app: worker, beat, web.
from pricehub import signals  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricehub.settings")

celery_app = Celery("pricehub")
celery_app.config_from_object("django.conf:settings", namespace="CELERY")
celery_app.autodiscover_tasks()

"""The Celery application: configured from Django settings prefixed CELERY_."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

from celery import Celery
from django.conf import settings
from kombu.exceptions import OperationalError
from prometheus_client.core import GaugeMetricFamily, Metric

# Connects the task-outcome counters in every process that loads the app: worker, beat, web.
from pricehub import signals  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricehub.settings")

celery_app = Celery("pricehub")
celery_app.config_from_object("django.conf:settings", namespace="CELERY")
celery_app.autodiscover_tasks()
logger = logging.getLogger(__name__)


class QueueLengths:
    """Prometheus collector of the messages waiting in each Celery queue, as the broker holds
    them at the scrape: what the workers' autoscaling follows (docs/deployment.md)."""

    NAME = "pricehub_celery_queue_messages"

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            self.NAME, "Messages waiting in a Celery queue", labels=["queue"]
        )
        # Within the Redis timeouts, one try: a scrape never waits on a broker that is down.
        timeouts = {
            "socket_timeout": settings.REDIS_TIMEOUT_SECONDS,
            "socket_connect_timeout": settings.REDIS_CONNECT_TIMEOUT_SECONDS,
            "max_retries": 1,
        }
        connection = celery_app.connection_for_read(transport_options=timeouts)
        try:
            with connection:
                connection.ensure_connection(
                    max_retries=1, interval_start=0, timeout=settings.REDIS_TIMEOUT_SECONDS
                )
                for queue in celery_app.conf.task_queues:
                    # Declaring a queue creates nothing in Redis; it counts the queue's messages.
                    waiting = connection.default_channel.queue_declare(queue.name).message_count
                    family.add_metric([queue.name], waiting)
        except (OperationalError, *connection.connection_errors) as exc:
            logger.warning("Celery queues left out of the metrics: %s", exc)
            return
        yield family

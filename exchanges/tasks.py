"""The venues' background work, run by the Celery worker."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from celery.signals import beat_init
from django.conf import settings

from exchanges import catalogue


@shared_task(bind=True, max_retries=None)
def sync_markets(self: Task, names: list[str] | None = None) -> int:
    """Store the markets of every enabled venue (or of those named) from its catalogue; return
    how many trade. The venues whose catalogue could not be had are read again, alone,
    CATALOGUE_RETRY_SECONDS later, then twice as late each time until the next sync is due."""
    synced = catalogue.sync_all(names)
    if failed := [each.exchange for each in synced if each.error]:
        wait = settings.PRICEHUB_CATALOGUE_RETRY_SECONDS * 2**self.request.retries
        if wait < settings.PRICEHUB_CATALOGUE_SECONDS:
            raise self.retry(kwargs={"names": failed}, countdown=wait)
    return sum(each.trading for each in synced)


@beat_init.connect
def sync_markets_at_start(**kwargs: Any) -> None:
    """Have the catalogues read as the beat starts, then every CATALOGUE_SECONDS."""
    sync_markets.delay()

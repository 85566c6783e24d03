"""The venues' background work, run by the Celery worker."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import beat_init

from exchanges import catalogue


@shared_task
def sync_markets() -> int:
    """Store every enabled venue's markets from its catalogue; return how many trade."""
    return sum(synced.trading for synced in catalogue.sync_all())


@beat_init.connect
def sync_markets_at_start(**kwargs: Any) -> None:
    """Have the catalogues read as the beat starts, then every CATALOGUE_SECONDS."""
    sync_markets.delay()

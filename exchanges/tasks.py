"""The venues' background work, run by the Celery worker."""

from __future__ import annotations

from celery import shared_task

from exchanges import catalogue


@shared_task
def sync_markets() -> int:
    """Store every enabled venue's markets from its catalogue; return how many trade."""
    return sum(synced.trading for synced in catalogue.sync_all())

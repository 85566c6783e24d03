from __future__ import annotations

from pricehub.celery import celery_app

__all__ = ("celery_app",)

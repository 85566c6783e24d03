"""Tell every process when the asset configuration changes, so reads see it at once."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from aggregation import copies, scheduling
from aggregation.models import Asset


@receiver([post_save, post_delete], sender=Asset)
def asset_changed(**kwargs: Any) -> None:
    """Reload the asset table here now, and in every other process at its next read."""
    copies.forget_assets()
    scheduling.assets_changed()

from __future__ import annotations

from django.apps import AppConfig


class AggregationConfig(AppConfig):
    name = "aggregation"
    verbose_name = "Aggregation"

    def ready(self) -> None:
        from aggregation import signals  # noqa: F401  (connects the receivers)

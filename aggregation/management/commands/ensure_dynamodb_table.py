from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from aggregation.history import client


class Command(BaseCommand):
    help = "Create the DynamoDB price history tables (points and candles) unless they exist."

    def handle(self, *args: Any, **options: Any) -> None:
        client.ensure_tables()
        where = settings.DYNAMODB_ENDPOINT_URL or f"AWS {settings.AWS_REGION}"
        table = settings.DYNAMODB_TABLE
        self.stdout.write(f"Tables {table} and {table}-candles are ready ({where}).")

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from exchanges.adapters import ADAPTER_KINDS
from exchanges.targets import check_base_url


class Exchange(models.Model):
    """A venue PriceHub asks for quotes, and how to reach it."""

    name = models.SlugField(max_length=50, unique=True)
    kind = models.CharField(
        max_length=20,
        choices=[(kind, kind.title()) for kind in ADAPTER_KINDS],
        help_text="The venue's REST format: which adapter reads its answers.",
    )
    base_url = models.URLField(
        help_text="e.g. https://api.binance.com", validators=[check_base_url]
    )
    enabled = models.BooleanField(default=True)
    timeout_seconds = models.FloatField(
        default=2.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(30)],
        help_text="Read timeout of one request to this venue.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

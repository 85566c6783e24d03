from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models

# PriceHub's symbols: base then quote asset, upper-case letters and digits (BTCUSDT).
SYMBOL_PATTERN = r"^[A-Z0-9]{2,20}$"


class Asset(models.Model):
    """A pair PriceHub prices, and how often."""

    class Tier(models.TextChoices):
        HOT = "hot"
        MEDIUM = "medium"
        COLD = "cold"

    symbol = models.CharField(
        max_length=20, unique=True, validators=[RegexValidator(SYMBOL_PATTERN)]
    )
    base = models.CharField(max_length=10, help_text="e.g. BTC")
    quote = models.CharField(max_length=10, help_text="e.g. USDT")
    enabled = models.BooleanField(default=True)
    tier = models.CharField(
        max_length=10,
        choices=Tier.choices,
        default=Tier.MEDIUM,
        help_text="Sets the refresh interval (settings PRICEHUB_TIER_SECONDS).",
    )

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol

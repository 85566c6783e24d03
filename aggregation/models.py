from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from aggregation.aggregate import Rules
from aggregation.methods import METHODS

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
    method = models.CharField(
        max_length=30,
        choices=[(name, name) for name in METHODS],
        default="vwap",
        help_text="How quotes become one price, unless a request asks for another method.",
    )
    quorum = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1)],
        help_text="Usable quotes needed to publish a price; below it the last one goes stale.",
    )
    outlier_mad_k = models.DecimalField(
        "outlier MAD multiple",
        max_digits=5,
        decimal_places=2,
        default=Decimal(5),
        validators=[MinValueValidator(Decimal(0))],
        help_text="A quote farther from the median than this many median absolute deviations "
        "(and than the band) is excluded as an outlier.",
    )
    outlier_band_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal(0))],
        help_text="Quotes within this percentage of the median are never outliers.",
    )

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol

    @property
    def rules(self) -> Rules:
        return Rules(
            method=self.method,
            quorum=self.quorum,
            max_age=timedelta(seconds=settings.PRICEHUB_MAX_QUOTE_AGE_SECONDS),
            mad_k=self.outlier_mad_k,
            band=self.outlier_band_percent / 100,
            half_life=Decimal(str(settings.PRICEHUB_KEPT_QUOTE_HALF_LIFE_SECONDS)),
            tolerance=Decimal(str(settings.PRICEHUB_AGREEMENT_TOLERANCE_BPS)) / 10_000,
        )

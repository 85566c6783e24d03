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


class Market(models.Model):
    """A pair a venue lists, as its own catalogue says: its name there, its assets in common
    codes, and whether it trades. Kept in step with the catalogue by exchanges.catalogue."""

    class Status(models.TextChoices):
        TRADING = "trading"
        HALTED = "halted"  # listed, but not trading: a break, cancel-only, disabled, ...
        DELISTED = "delisted"  # no longer in the venue's catalogue

    exchange = models.ForeignKey(Exchange, on_delete=models.CASCADE, related_name="markets")
    symbol = models.CharField(
        max_length=50, help_text="The venue's name: BTCUSDT, BTC-USD, XXBTZUSD."
    )
    base = models.CharField(max_length=20, help_text="Common code, e.g. BTC (Kraken's XXBT).")
    quote = models.CharField(max_length=20, help_text="Common code, e.g. USD (Kraken's ZUSD).")
    status = models.CharField(max_length=10, choices=Status.choices)
    venue_status = models.CharField(
        max_length=30, blank=True, help_text="The venue's own word: TRADING, BREAK, online."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["exchange__name", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["exchange", "symbol"], name="one_market_per_name")
        ]
        indexes = [models.Index(fields=["base", "quote"])]

    def __str__(self) -> str:
        return f"{self.exchange.name} {self.symbol}"

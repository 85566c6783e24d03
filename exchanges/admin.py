from __future__ import annotations

import time

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from common import redis_store
from exchanges import catalogue
from exchanges.circuits import circuit_close, circuit_state
from exchanges.client import fetch_quote
from exchanges.health import venue_health
from exchanges.models import Exchange, Market
from exchanges.quotes import ExchangeError

# What "test connection" asks each venue for: the pair every venue lists.
TEST_PAIR = {"symbol": "BTCUSDT", "base": "BTC", "quote": "USDT"}


@admin.register(Exchange)
class ExchangeAdmin(admin.ModelAdmin):
    list_display = [
        "name", "kind", "base_url", "enabled", "timeout_seconds", "circuit", "latency",
    ]  # fmt: skip
    list_editable = ["enabled"]
    list_filter = ["kind", "enabled"]
    actions = ["test_connection", "close_circuits", "sync_markets"]
    # Venue URLs are typed in full; a bare host means https, as Django 6 will assume.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="circuit")
    def circuit(self, exchange: Exchange) -> str:
        """Return the venue's circuit state, as every process sees it in Redis."""
        return circuit_state(exchange.name)

    @admin.display(description="latency (mean / p95)")
    def latency(self, exchange: Exchange) -> str:
        """Return the venue's latency over its last requests, from every process."""
        try:
            health = venue_health(exchange.name)
        except redis_store.UNAVAILABLE:
            return "Redis unavailable"
        mean, p95 = health["latency_ms"]["mean"], health["latency_ms"]["p95"]
        if mean is None:
            return "-"
        return f"{mean:g} / {p95:g} ms over {health['requests']} requests"

    @admin.action(description="Test the connection: ask each selected exchange for BTCUSDT")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Exchange]) -> None:
        """Ask each venue for one ticker now, saying what it answered and how fast."""
        for exchange in queryset:
            started = time.monotonic()
            try:
                quote = fetch_quote(exchange, **TEST_PAIR)
            except ExchangeError as exc:
                self.message_user(request, f"{exchange.name}: {exc}", messages.WARNING)
                continue
            took = (time.monotonic() - started) * 1000
            self.message_user(request, f"{exchange.name}: BTCUSDT {quote.price} in {took:.0f} ms")

    @admin.action(description="Close the circuit of the selected exchanges")
    def close_circuits(self, request: HttpRequest, queryset: QuerySet[Exchange]) -> None:
        """Let requests through again, once an operator knows the venue is back."""
        for exchange in queryset:
            circuit_close(exchange.name)
        self.message_user(request, f"Closed {len(queryset)} circuit(s).")

    @admin.action(description="Sync the markets of the selected exchanges from their catalogues")
    def sync_markets(self, request: HttpRequest, queryset: QuerySet[Exchange]) -> None:
        """Read each venue's catalogue now and store its markets."""
        for each in map(catalogue.sync, queryset):
            if each.error:
                self.message_user(request, f"{each.exchange}: {each.error}", messages.WARNING)
                continue
            counts = f"{each.trading} trading, {each.halted} halted"
            self.message_user(request, f"{each.exchange}: {counts}, {each.delisted} delisted")


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    """The venues' markets, as their catalogues list them: read here, written by a sync."""

    list_display = ["exchange", "symbol", "base", "quote", "status", "venue_status", "updated_at"]
    list_filter = ["exchange", "status", "quote"]
    search_fields = ["symbol", "base"]
    list_select_related = ["exchange"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Market | None = None) -> bool:
        return False

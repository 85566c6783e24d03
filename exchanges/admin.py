from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from exchanges.client import circuit_close, circuit_state
from exchanges.models import Exchange


@admin.register(Exchange)
class ExchangeAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "base_url", "enabled", "timeout_seconds", "circuit"]
    list_editable = ["enabled"]
    list_filter = ["kind", "enabled"]
    actions = ["close_circuits"]
    # Venue URLs are typed in full; a bare host means https, as Django 6 will assume.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="circuit")
    def circuit(self, exchange: Exchange) -> str:
        """Return the venue's circuit state, as every process sees it in Redis."""
        return circuit_state(exchange.name)

    @admin.action(description="Close the circuit of the selected exchanges")
    def close_circuits(self, request: HttpRequest, queryset: QuerySet[Exchange]) -> None:
        """Let requests through again, once an operator knows the venue is back."""
        for exchange in queryset:
            circuit_close(exchange.name)
        self.message_user(request, f"Closed {len(queryset)} circuit(s).")

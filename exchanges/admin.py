from __future__ import annotations

from django.contrib import admin

from exchanges.models import Exchange


@admin.register(Exchange)
class ExchangeAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "base_url", "enabled", "timeout_seconds"]
    list_editable = ["enabled"]
    list_filter = ["kind", "enabled"]

from __future__ import annotations

from django.contrib import admin

from aggregation.models import Asset


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ["symbol", "base", "quote", "tier", "method", "quorum", "enabled"]
    list_editable = ["tier", "method", "enabled"]
    list_filter = ["tier", "method", "enabled"]
    search_fields = ["symbol", "base"]

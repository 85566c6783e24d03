from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from aggregation.models import Asset
from aggregation.price import RefreshError
from aggregation.services import price_refresh


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ["symbol", "base", "quote", "tier", "method", "quorum", "enabled"]
    list_editable = ["tier", "method", "enabled"]
    list_filter = ["tier", "method", "enabled"]
    search_fields = ["symbol", "base"]
    actions = ["refresh_now"]

    @admin.action(description="Refresh the selected assets now")
    def refresh_now(self, request: HttpRequest, queryset: QuerySet[Asset]) -> None:
        """Refresh each selected enabled asset, saying how each went."""
        for asset in queryset.filter(enabled=True):
            try:
                price = price_refresh(symbol=asset.symbol)
            except RefreshError as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            used = f"{len(price.used)}/{len(price.sources)} sources"
            self.message_user(request, f"{asset.symbol}: {price.price} ({used})")

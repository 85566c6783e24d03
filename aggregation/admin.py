from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from aggregation import price_cache
from aggregation.models import Asset
from aggregation.price import RefreshError
from aggregation.services import price_refresh
from aggregation.signals import asset_changed
from common import redis_store

IMPORT_FIELDS = ["symbol", "base", "quote", "tier", "method", "quorum", "enabled"]


class AssetRow(forms.ModelForm):
    """One row of an assets CSV file, validated as the admin's own form would."""

    class Meta:
        model = Asset
        fields = IMPORT_FIELDS


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with a header row: symbol, base, quote, and optionally tier, method, "
        "quorum, enabled (true or false). At most 1 MB."
    )


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = [
        "symbol", "base", "quote", "tier", "method", "quorum", "enabled", "price", "age",
    ]  # fmt: skip
    list_editable = ["tier", "method", "enabled"]
    list_filter = ["tier", "method", "enabled"]
    search_fields = ["symbol", "base"]
    actions = ["refresh_now", "move_to_hot", "move_to_medium", "move_to_cold"]
    change_list_template = "admin/aggregation/asset/change_list.html"

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        """The page's assets, each with its latest published price, read in one round trip."""
        changelist = super().get_changelist_instance(request)
        assets = list(changelist.result_list)
        try:
            latest = price_cache.latest_prices([asset.symbol for asset in assets])
        except redis_store.UNAVAILABLE:
            latest = {}
            self.message_user(request, "Redis is unavailable: no prices shown.", messages.WARNING)
        for asset in assets:
            asset.latest = latest.get(asset.symbol)
        return changelist

    @admin.display(description="price")
    def price(self, asset: Asset) -> str:
        latest = getattr(asset, "latest", None)
        return "-" if latest is None else f"{latest.price} ({len(latest.used)} sources)"

    @admin.display(description="age")
    def age(self, asset: Asset) -> str:
        # As the API's age_seconds: since the venue time of the newest quote used.
        latest = getattr(asset, "latest", None)
        if latest is None:
            return "-"
        return f"{(datetime.now(UTC) - latest.last_updated).total_seconds():.1f} s"

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

    @admin.action(description="Move the selected assets to the hot tier")
    def move_to_hot(self, request: HttpRequest, queryset: QuerySet[Asset]) -> None:
        self._move(request, queryset, Asset.Tier.HOT)

    @admin.action(description="Move the selected assets to the medium tier")
    def move_to_medium(self, request: HttpRequest, queryset: QuerySet[Asset]) -> None:
        self._move(request, queryset, Asset.Tier.MEDIUM)

    @admin.action(description="Move the selected assets to the cold tier")
    def move_to_cold(self, request: HttpRequest, queryset: QuerySet[Asset]) -> None:
        self._move(request, queryset, Asset.Tier.COLD)

    def _move(self, request: HttpRequest, queryset: QuerySet[Asset], tier: str) -> None:
        moved = queryset.update(tier=tier)
        asset_changed()  # one update, one announcement: the schedule follows at the next tick
        self.message_user(request, f"Moved {moved} asset(s) to the {tier} tier.")

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.import_csv)
        return [path("import/", view, name="aggregation_asset_import"), *super().get_urls()]

    def import_csv(self, request: HttpRequest) -> HttpResponse:
        """Add the assets of a CSV file; report those added and those refused, and why."""
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        form = ImportForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            report = _import(form.cleaned_data["file"])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import assets from CSV",
            "form": form,
            "report": report,
        }
        return render(request, "admin/aggregation/asset/import.html", context)


def _import(upload: Any) -> dict[str, list[str]]:
    """Add each valid row of the uploaded file as an asset; return the symbols added and
    a line for each row refused."""
    most = settings.PRICEHUB_ASSET_IMPORT_MAX_BYTES
    if upload.size > most:
        return {"added": [], "refused": [f"the file is over {most:,} bytes"]}
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        return {"added": [], "refused": ["the file is not UTF-8 text"]}
    rows = csv.DictReader(io.StringIO(text))
    missing = {"symbol", "base", "quote"} - set(rows.fieldnames or [])
    if missing:
        return {"added": [], "refused": [f"the header lacks {', '.join(sorted(missing))}"]}
    added, refused, seen = [], [], set()
    for line, row in enumerate(rows, start=2):
        data = {key: (row.get(key) or "").strip() for key in IMPORT_FIELDS}
        data["enabled"] = data["enabled"].lower() not in {"false", "0", "no"}
        for key, default in (("tier", "medium"), ("method", "vwap"), ("quorum", "2")):
            data[key] = data[key] or default
        form = AssetRow(data)
        symbol = data["symbol"] or "(no symbol)"
        if symbol in seen:
            refused.append(f"line {line}: {symbol}: repeats an earlier line")
            continue
        if not form.is_valid():
            reasons = "; ".join(
                f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()
            )
            refused.append(f"line {line}: {symbol}: {reasons}")
            continue
        seen.add(symbol)
        added.append(form.save(commit=False))
    with transaction.atomic():
        Asset.objects.bulk_create(added)
    if added:
        asset_changed()
    return {"added": [asset.symbol for asset in added], "refused": refused}

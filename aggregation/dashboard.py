"""The dashboard at /: every enabled asset's price, updating live from GET /stream, a search
that finds any asset, and for the asset chosen its venues and a candle chart. The page is a
shell; its script reads the public API (GET /assets, /prices, /stream,
/prices/{asset}/candles) like any other client."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from aggregation.candles import INTERVALS
from aggregation.models import Asset
from aggregation.selectors import MAX_BATCH, tier_policy
from common.errors import method_not_allowed


def dashboard(request: HttpRequest) -> HttpResponse:
    """Render one page of assets: as many as one stream (and one batch read) may name."""
    if request.method not in {"GET", "HEAD"}:
        return method_not_allowed(("GET", "HEAD"))
    assets = Asset.objects.filter(enabled=True).order_by("symbol").values_list("symbol", flat=True)
    page = Paginator(assets, MAX_BATCH).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "config": {
            "assets": list(page.object_list),
            "staleAfter": {tier: stale for tier, (stale, _) in tier_policy().items()},
            "intervals": list(INTERVALS),
            "urls": {
                "assets": reverse("assets"),
                "prices": reverse("prices"),
                "stream": reverse("stream"),
                "candles": reverse("candles", args=["ASSET"]),
            },
        },
    }
    return render(request, "aggregation/dashboard.html", context)

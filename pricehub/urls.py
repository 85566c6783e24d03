from __future__ import annotations

from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from aggregation.api.assets import AssetListView
from aggregation.api.history import CandlesView, HistoryView
from aggregation.api.prices import PriceListView, PriceView, RefreshView
from aggregation.api.stream import stream
from aggregation.dashboard import dashboard
from exchanges.api import ExchangeListView, MarketListView
from pricehub.health import HealthView, ReadyView, metrics

urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("admin/", admin.site.urls),
    path("prices", PriceListView.as_view(), name="prices"),
    path("prices/<str:asset>", PriceView.as_view(), name="price"),
    path("prices/<str:asset>/history", HistoryView.as_view(), name="history"),
    path("prices/<str:asset>/candles", CandlesView.as_view(), name="candles"),
    path("assets", AssetListView.as_view(), name="assets"),
    path("exchanges", ExchangeListView.as_view(), name="exchanges"),
    path("markets", MarketListView.as_view(), name="markets"),
    path("refresh/<str:asset>", RefreshView.as_view(), name="refresh"),
    path("stream", stream, name="stream"),
    path("healthz", HealthView.as_view(), name="healthz"),
    path("readyz", ReadyView.as_view(), name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("metrics", metrics, name="prometheus-django-metrics"),
]

handler400 = "common.errors.bad_request"
handler403 = "common.errors.forbidden"
handler404 = "common.errors.not_found"
handler500 = "common.errors.server_error"

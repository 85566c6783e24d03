from __future__ import annotations

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from aggregation.api.assets import AssetListView
from aggregation.api.history import CandlesView, HistoryView
from aggregation.api.prices import PriceListView, PriceView, RefreshView
from aggregation.api.stream import stream
from aggregation.dashboard import dashboard
from exchanges.api import ExchangeListView, MarketListView
from pricehub.health import HealthView, ReadyView, metrics

# Swagger UI's page loads its start-up script as a file of its own (the split view), under the
# Content-Security-Policy; its one inline style block is let in on this page alone.
api_docs = csp_update({"style-src": [SELF, UNSAFE_INLINE]})(
    SpectacularSwaggerSplitView.as_view(url_name="schema")
)

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
    path("api/docs/", api_docs, name="docs"),
    path("metrics", metrics, name="prometheus-django-metrics"),
]

handler400 = "common.errors.bad_request"
handler403 = "common.errors.forbidden"
handler404 = "common.errors.not_found"
handler500 = "common.errors.server_error"

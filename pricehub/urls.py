from __future__ import annotations

from django.contrib import admin
from django.urls import path

from aggregation.api import PriceView, RefreshView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("prices/<str:asset>", PriceView.as_view(), name="price"),
    path("refresh/<str:asset>", RefreshView.as_view(), name="refresh"),
]

handler404 = "aggregation.api.not_found"
handler500 = "aggregation.api.server_error"

"""Django's own refusals answer in PriceHub's JSON error body, never an HTML page."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.usefixtures("stores")


def test_too_many_query_fields_is_a_json_400(api):
    query = "&".join(f"f{n}=1" for n in range(1001))
    response = api.get(f"/prices/BTCUSDT/history?{query}")
    assert (response.status_code, response["Content-Type"]) == (400, "application/json")
    assert response.json()["error"] == "bad_request"


def test_a_host_not_served_is_a_json_400(api):
    response = api.get("/prices/BTCUSDT", HTTP_HOST="evil.example")
    assert (response.status_code, response.json()["error"]) == (400, "bad_request")


@pytest.mark.django_db
def test_post_to_metrics_is_a_json_405(api):
    response = api.post("/metrics")
    assert (response.status_code, response.json()["error"]) == (405, "method_not_allowed")
    assert response["Allow"] == "GET, HEAD"
    assert api.get("/metrics").status_code == 200


def test_a_failed_csrf_check_is_a_json_403():
    response = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "x"})
    assert (response.status_code, response.json()["error"]) == (403, "csrf_failed")

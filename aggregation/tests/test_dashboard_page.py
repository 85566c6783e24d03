"""The dashboard's page as served: which assets it lists and what its script is told."""

from __future__ import annotations

import json
import re

import pytest

from aggregation.models import Asset
from aggregation.selectors import MAX_BATCH


def config(response) -> dict:
    pattern = rb'<script id="config" type="application/json">(.*?)</script>'
    found = re.search(pattern, response.content)
    return json.loads(found[1])


@pytest.mark.django_db
@pytest.mark.usefixtures("seeded_assets")
def test_the_dashboard_lists_the_enabled_assets_and_tells_its_script_where_to_read(client):
    Asset.objects.filter(symbol="XRPUSDT").update(enabled=False)
    response = client.get("/")
    assert response.status_code == 200
    told = config(response)
    assert told["assets"] == sorted(
        Asset.objects.filter(enabled=True).values_list("symbol", flat=True)
    )
    assert "XRPUSDT" not in told["assets"]
    assert b"asset-XRPUSDT" not in response.content
    assert told["urls"] == {
        "assets": "/assets",
        "prices": "/prices",
        "stream": "/stream",
        "candles": "/prices/ASSET/candles",
    }
    assert told["intervals"] == ["1m", "5m", "1h", "1d"]
    assert set(told["staleAfter"]) == {"hot", "medium", "cold"}


@pytest.mark.django_db
def test_the_dashboard_pages_as_many_assets_as_one_stream_may_name(client):
    Asset.objects.all().delete()
    Asset.objects.bulk_create(
        Asset(symbol=f"A{n:03}USDT", base=f"A{n:03}", quote="USDT") for n in range(MAX_BATCH + 3)
    )
    first, second = config(client.get("/")), config(client.get("/?page=2"))
    assert len(first["assets"]) == MAX_BATCH
    assert len(second["assets"]) == 3
    assert config(client.get("/?page=x"))["assets"] == first["assets"]


@pytest.mark.django_db
def test_the_dashboard_refuses_other_methods_in_json(client):
    response = client.post("/")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


@pytest.mark.django_db
def test_the_dashboard_and_the_admin_load_nothing_but_pricehubs_own_files(client):
    for path in ("/", "/admin/login/"):
        policy = client.get(path)["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["default-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        assert "unsafe" not in policy
    assert "Content-Security-Policy" not in client.get("/healthz")  # JSON runs nothing

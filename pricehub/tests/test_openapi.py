from __future__ import annotations

from io import StringIO
from pathlib import Path

import yaml
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


def generated_schema() -> dict:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def test_the_committed_openapi_yaml_matches_the_code():
    committed = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    assert committed == generated_schema(), "openapi.yaml is stale: run `make openapi`"


def test_every_operation_documents_its_error_responses():
    paths = generated_schema()["paths"]
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        for method, operation in operations.items()
        # /healthz answers 200 whenever the process can answer at all.
        if path != "/healthz"
        and not any(code.startswith(("4", "5")) for code in operation["responses"])
    ]
    assert undocumented == []


def test_it_serves_the_schema(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["info"]["title"] == "PriceHub API"


def test_it_serves_swagger_ui_from_its_own_static_files(client):
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page

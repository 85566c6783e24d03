"""No module of PriceHub's own code outgrows a sitting: at most 300 lines, so each keeps to one
concern (tests and migrations aside)."""

from __future__ import annotations

from deploy.services import ROOT

PACKAGES = (
    "pricehub",
    "common",
    "exchanges",
    "aggregation",
    "mock_exchange_app",
    "bench",
    "deploy",
)
MOST_LINES = 300


def test_no_module_is_over_300_lines():
    modules = [
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if not {"tests", "migrations"} & set(path.relative_to(ROOT).parts)
    ]
    assert len(modules) > 50  # the walk found the code
    sizes = {str(path.relative_to(ROOT)): len(path.read_text().splitlines()) for path in modules}
    assert {path: size for path, size in sizes.items() if size > MOST_LINES} == {}

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest

from aggregation.services import price_refresh
from exchanges.circuits import circuit_state
from exchanges.models import Exchange
from mock_exchange_app import control

pytestmark = pytest.mark.usefixtures("stores", "venue_rows")


@pytest.fixture
def open_binance(stores: None, venue_rows: None, venues, settings) -> Iterator[None]:
    settings.PRICEHUB_CIRCUIT_FAIL_MAX = 1
    control.set_fault(venues["binance"], "*", "down")
    price_refresh(symbol="BTCUSDT")
    yield
    control.clear_faults(venues["binance"])


@pytest.mark.usefixtures("open_binance")
def test_the_exchange_list_shows_each_circuit(admin_client):
    page = admin_client.get("/admin/exchanges/exchange/").content.decode()
    assert '<td class="field-circuit">open</td>' in page
    assert page.count('<td class="field-circuit">closed</td>') == 5


@pytest.mark.usefixtures("open_binance")
def test_an_operator_can_close_a_circuit(admin_client):
    binance = Exchange.objects.get(name="binance")
    assert circuit_state("binance") == "open"
    admin_client.post(
        "/admin/exchanges/exchange/",
        {"action": "close_circuits", "_selected_action": [binance.pk]},
    )
    assert circuit_state("binance") == "closed"


def add_venue(admin_client, base_url: str) -> str:
    """Add a venue through the admin's form; return the page it answers, entities unescaped."""
    form = {"name": "newvenue", "kind": "okx", "base_url": base_url, "timeout_seconds": "2"}
    return html.unescape(admin_client.post("/admin/exchanges/exchange/add/", form).content.decode())


def test_the_admin_refuses_a_venue_over_plain_http_under_the_production_rules(
    admin_client, settings
):
    settings.PRICEHUB_VENUE_PRIVATE_ADDRESSES = False
    settings.PRICEHUB_VENUE_HTTPS_ONLY = True
    page = add_venue(admin_client, "http://93.184.215.14")
    assert "'http://93.184.215.14' is plain http to a public address" in page
    page = add_venue(admin_client, "http://10.0.0.7")
    assert "'http://10.0.0.7' points to a private, loopback or link-local address" in page
    assert not Exchange.objects.filter(name="newvenue").exists()
    add_venue(admin_client, "https://93.184.215.14")
    assert Exchange.objects.get(name="newvenue").base_url == "https://93.184.215.14"

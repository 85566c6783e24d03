from __future__ import annotations

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

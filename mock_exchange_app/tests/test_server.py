from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from aggregation.tests.stack import serving, venue_command


def test_it_serves_the_coinbase_venue_over_real_http(tmp_path: Path) -> None:
    output = tmp_path / "out"
    with output.open("w") as out, serving(venue_command("coinbase"), stdout=out) as coinbase:
        reply = requests.get(f"{coinbase.url}/products/BTC-USDT/ticker", timeout=2)
        missing = requests.get(f"{coinbase.url}/products/NOPE-USDT/ticker", timeout=2)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert Decimal(reply.json()["bid"]) < Decimal(reply.json()["ask"])
    assert (missing.status_code, missing.json()) == (404, {"message": "NotFound"})
    assert f"coinbase venue listening on {coinbase.url}" in output.read_text()


@pytest.mark.slow
def test_its_fault_endpoint_is_off_unless_sim_faults_turns_it_on() -> None:
    answers = {}
    for flag in ("", "true"):
        with serving(venue_command("binance"), {**os.environ, "SIM_FAULTS": flag}) as binance:
            fault = requests.put(f"{binance.url}/sim/faults/*", json={"mode": "down"}, timeout=2)
            ticker = requests.get(f"{binance.url}/api/v3/ticker/24hr?symbol=BTCUSDT", timeout=2)
            answers[flag] = (fault.status_code, ticker.status_code)
    assert answers == {"": (405, 200), "true": (200, 503)}

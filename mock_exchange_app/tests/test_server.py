from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout: float = 15.0) -> requests.Response:
    """Poll until the server answers, since gunicorn takes a moment to bind."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_it_serves_the_coinbase_venue_over_real_http() -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "mock_exchange_app", "coinbase", "--port", str(port)]
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        reply = wait_for(f"http://127.0.0.1:{port}/products/BTC-USDT/ticker")
        missing = requests.get(f"http://127.0.0.1:{port}/products/NOPE-USDT/ticker", timeout=2)
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=15)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert Decimal(reply.json()["bid"]) < Decimal(reply.json()["ask"])
    assert (missing.status_code, missing.json()) == (404, {"message": "NotFound"})
    assert f"coinbase venue listening on http://127.0.0.1:{port}" in out


@pytest.mark.slow
def test_its_fault_endpoint_is_off_unless_sim_faults_turns_it_on() -> None:
    answers = {}
    for flag in ("", "true"):
        port = free_port()
        cmd = [sys.executable, "-m", "mock_exchange_app", "binance", "--port", str(port)]
        env = {**os.environ, "SIM_FAULTS": flag}
        server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/api/v3/ticker/24hr?symbol=BTCUSDT")
            fault = requests.put(f"{base}/sim/faults/*", json={"mode": "down"}, timeout=2)
            ticker = requests.get(f"{base}/api/v3/ticker/24hr?symbol=BTCUSDT", timeout=2)
            answers[flag] = (fault.status_code, ticker.status_code)
        finally:
            server.terminate()
            server.wait(timeout=10)
    assert answers == {"": (405, 200), "true": (200, 503)}

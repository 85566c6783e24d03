"""POST /refresh shares: a price younger than REFRESH_FRESH_SECONDS is the answer as it is, and
the refreshes of an asset already being refreshed answer that round's price."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from aggregation import price_cache
from aggregation.price import AggregatedPrice, Source, whole_ms
from aggregation.tests import stack
from common import redis_store
from common.metrics import VENUE_REQUESTS
from deploy.services import ROOT, wait_until
from mock_exchange_app.control import clear_faults, set_fault

pytestmark = pytest.mark.usefixtures("stores", "venue_rows")

CONCURRENT = 50
FRESH = 5.0
NEW_TOKEN = (
    "from django.contrib.auth.models import User; "
    "from rest_framework.authtoken.models import Token; "
    "print(Token.objects.create(user=User.objects.create_user('client')).key)"
)


def venue_calls() -> float:
    """Return how many calls this process made to the venues so far."""
    return sum(
        sample.value
        for metric in VENUE_REQUESTS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def a_price(symbol: str, price: str) -> AggregatedPrice:
    moment = whole_ms(datetime.now(UTC))
    source = Source("binance", "used", price=Decimal(price), volume=Decimal(1))
    return AggregatedPrice(symbol, Decimal(price), "vwap", moment, moment, (source,))


def a_request_waits() -> bool:
    """Return whether a client of Redis is blocked waiting for the end of a round."""
    clients = redis_store.connection().client_list()
    return any(client["cmd"] == "blmove" and "b" in client["flags"] for client in clients)


def hold(
    lock: Callable[[], AbstractContextManager[Any]],
    *,
    publishing: AggregatedPrice | None = None,
    seconds: float | None = None,
) -> threading.Thread:
    """Hold a refresh lock in a thread of its own, for seconds or until a request waits for
    its round, then publish a price (or not) before letting go, as a round does; return once
    it is held."""
    held = threading.Event()

    def round_() -> None:
        with lock():
            held.set()
            if seconds is None:
                wait_until(a_request_waits, "a request waiting", timeout=10)
            else:
                time.sleep(seconds)
            if publishing is not None:
                price_cache.publish([publishing], [])

    thread = threading.Thread(target=round_)
    thread.start()
    held.wait(5)
    return thread


def test_a_refresh_right_after_a_refresh_answers_its_price_asking_no_venue(api, settings):
    settings.PRICEHUB_REFRESH_FRESH_SECONDS = 5  # "right after", even on a loaded machine
    first = api.post("/refresh/BTCUSDT").json()
    calls = venue_calls()
    second = api.post("/refresh/BTCUSDT").json()
    assert (first["reused"], second["reused"]) == (False, True)
    assert second["price"]["aggregated_at"] == first["price"]["aggregated_at"]
    assert venue_calls() == calls


def test_after_the_fresh_window_a_refresh_asks_the_venues_again(api, settings):
    settings.PRICEHUB_REFRESH_FRESH_SECONDS = 0.2
    first = api.post("/refresh/BTCUSDT").json()
    time.sleep(0.25)
    calls = venue_calls()
    second = api.post("/refresh/BTCUSDT").json()
    assert second["reused"] is False
    assert second["price"]["aggregated_at"] > first["price"]["aggregated_at"]
    assert venue_calls() > calls


@pytest.mark.parametrize(
    "lock",
    [
        lambda: price_cache.refresh_lock("BTCUSDT"),  # another POST /refresh, the admin
        lambda: price_cache.refresh_locks(["BTCUSDT"]),  # a batch of the beat's
    ],
    ids=["refresh", "batch"],
)
def test_a_refresh_waits_for_the_round_running_and_answers_its_price(api, lock):
    made = a_price("BTCUSDT", "65000.5")
    round_ = hold(lock, publishing=made)
    calls = venue_calls()
    response = api.post("/refresh/BTCUSDT")
    round_.join()
    body = response.json()
    assert (response.status_code, body["reused"], body["price"]["price"]) == (200, True, 65000.5)
    assert venue_calls() == calls


def test_a_refresh_waiting_for_a_round_that_published_nothing_answers_503(api):
    round_ = hold(lambda: price_cache.refresh_lock("BTCUSDT"))
    response = api.post("/refresh/BTCUSDT")
    round_.join()
    assert (response.status_code, response.json()["error"]) == (503, "refresh_failed")


def test_a_refresh_waits_for_another_round_no_longer_than_its_bound(api, settings):
    settings.PRICEHUB_REFRESH_WAIT_SECONDS = 0.3
    round_ = hold(lambda: price_cache.refresh_lock("BTCUSDT"), seconds=4.0)
    started = time.monotonic()
    response = api.post("/refresh/BTCUSDT")
    waited = time.monotonic() - started
    round_.join()
    assert (response.status_code, response.json()["error"]) == (503, "refresh_in_progress")
    assert 0.3 <= waited < 3.0  # the round held on for 4 s


class Web:
    """The API's server of a stack of its own, as `make run` serves it, and what it counted."""

    def __init__(self, url: str, metrics: Path, token: str) -> None:
        self.url, self.metrics, self.token = url, metrics, token

    def refresh(self, symbol: str) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Token {self.token}"}
        response = requests.post(f"{self.url}/refresh/{symbol}", headers=headers, timeout=30)
        return response.status_code, response.json()

    def counted(self, name: str) -> float:
        """Return the sum of a metric's samples over the server's processes."""
        registry = CollectorRegistry()
        MultiProcessCollector(registry, str(self.metrics))
        return sum(
            sample.value
            for metric in registry.collect()
            for sample in metric.samples
            if sample.name == name
        )


@pytest.fixture
def web(stack_environment, tmp_path) -> Iterator[Web]:
    """Serve the API with Granian, 2 workers of 8 threads as under `make run`, on a stack of
    its own with no worker or beat, so its refreshes are all POST /refresh's; with a token."""
    env = stack_environment(redis_db=13, table="prices-shared-refresh", interval=60)
    # The requests past the server's 16 threads wait for one, as long as a loaded machine
    # takes: when the round's price is already out, they answer it, fresh for FRESH seconds.
    env["REFRESH_FRESH_SECONDS"] = str(FRESH)
    shell = [sys.executable, "manage.py", "shell", "-c", NEW_TOKEN]
    token = subprocess.run(shell, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    granian = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1"]

    def command(port: int) -> list[str]:
        return [
            *granian,
            *("--port", str(port), "--workers", "2", "--blocking-threads", "8"),
            "pricehub.wsgi:application",
        ]

    with stack.serving(command, env | {"PROMETHEUS_MULTIPROC_DIR": str(metrics)}) as web:
        yield Web(web.url, metrics, token.stdout.split()[-1])


@pytest.mark.slow
def test_concurrent_refreshes_of_an_asset_share_one_round_and_answer_its_price(web):
    # Each worker's first requests load what a refresh needs: an unknown asset asks no venue.
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda _: web.refresh("NOPEUSDT")[0], range(16))) == {404}
    start = threading.Barrier(CONCURRENT)

    def refresh(_: int) -> tuple[int, dict[str, Any]]:
        start.wait()
        return web.refresh("BTCUSDT")

    with ThreadPoolExecutor(CONCURRENT) as pool:
        answers = list(pool.map(refresh, range(CONCURRENT)))
    rounds = web.counted("pricehub_refresh_seconds_count")
    calls = web.counted("pricehub_venue_requests_total")
    prices = {(body["price"]["price"], body["price"]["aggregated_at"]) for _, body in answers}
    assert [status for status, _ in answers] == [200] * CONCURRENT
    assert (len(prices), rounds) == (1, 1)
    assert sorted(body["reused"] for _, body in answers) == [False] + [True] * (CONCURRENT - 1)
    # One round asked each venue as a lone refresh does, once the price is no longer fresh.
    time.sleep(FRESH)
    status, body = web.refresh("BTCUSDT")
    assert (status, body["reused"]) == (200, False)
    assert web.counted("pricehub_venue_requests_total") == 2 * calls > 0


@pytest.mark.slow
def test_a_refresh_waiting_for_a_round_without_quorum_answers_that_rounds_own_error(web, venues):
    with ThreadPoolExecutor(8) as pool:  # each worker loaded, as above
        assert set(pool.map(lambda _: web.refresh("NOPEUSDT")[0], range(16))) == {404}
    for url in venues.values():
        set_fault(url, "*", "slow", delay=5)  # each venue past its 2 s: no quorum
    try:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(web.refresh, "BTCUSDT")
            time.sleep(0.5)  # its round under way, for 2 s
            second = pool.submit(web.refresh, "BTCUSDT")
            wait_until(a_request_waits, "the second waiting for the first's round", timeout=5)
            answers = first.result(), second.result()
    finally:
        for url in venues.values():
            clear_faults(url)
    (status, body), waited = answers
    assert (status, body["error"], len(body["sources"])) == (503, "no_quorum", len(venues))
    assert waited == (status, body)

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.test import override_settings
from prometheus_client import REGISTRY

from deploy.services import free_port
from exchanges import health
from exchanges.circuits import circuit_state
from exchanges.client import fetch_quote
from exchanges.models import Exchange
from exchanges.quotes import ExchangeError, Quote
from mock_exchange_app import control

FAIL_MAX = 3


@pytest.fixture(autouse=True)
def circuit_limits(settings) -> None:
    settings.PRICEHUB_CIRCUIT_FAIL_MAX = FAIL_MAX
    settings.PRICEHUB_CIRCUIT_RESET_SECONDS = 30


@pytest.fixture
def binance(venues) -> Iterator[Exchange]:
    """The Binance-style venue as an unsaved row, behaving again after the test."""
    yield Exchange(name="binance", kind="binance", base_url=venues["binance"])
    control.clear_faults(venues["binance"])


@pytest.fixture
def dead_redis(settings) -> Iterator[None]:
    dead = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}"}
    }
    with override_settings(CACHES=dead):
        yield


def fetch(exchange: Exchange) -> Quote:
    return fetch_quote(exchange, symbol="BTCUSDT", base="BTC", quote="USDT")


def failed_reasons(exchange: Exchange, times: int) -> list[str]:
    """Fetch from the venue, taken down, that many times; return each failure's reason."""
    control.set_fault(exchange.base_url, "*", "down")
    reasons = []
    for _ in range(times):
        with pytest.raises(ExchangeError) as failure:
            fetch(exchange)
        reasons.append(failure.value.reason)
    return reasons


def requests_counted(exchange: str, outcome: str) -> float:
    labels = {"exchange": exchange, "outcome": outcome}
    return REGISTRY.get_sample_value("pricehub_venue_requests_total", labels) or 0.0


def test_it_opens_the_circuit_after_repeated_failures(binance):
    assert failed_reasons(binance, FAIL_MAX) == ["venue_error"] * FAIL_MAX
    assert circuit_state("binance") == "open"


def test_it_keeps_the_circuit_closed_below_the_failure_limit(binance):
    failed_reasons(binance, FAIL_MAX - 1)
    assert circuit_state("binance") == "closed"


def test_it_counts_only_failures_in_a_row(binance):
    failed_reasons(binance, FAIL_MAX - 1)
    control.clear_faults(binance.base_url)
    fetch(binance)
    failed_reasons(binance, FAIL_MAX - 1)
    assert circuit_state("binance") == "closed"


def test_it_fails_fast_without_asking_a_venue_whose_circuit_is_open(binance):
    failed_reasons(binance, FAIL_MAX)
    binance.base_url = "http://127.0.0.1:9"  # a request would be recorded as unreachable
    with pytest.raises(ExchangeError) as failure:
        fetch(binance)
    assert failure.value.reason == "circuit_open"
    assert health.venue_health("binance")["requests"] == FAIL_MAX


def test_it_keeps_the_open_circuit_in_redis_for_other_processes(binance, settings):
    failed_reasons(binance, FAIL_MAX)
    # A changed limit makes this process build its breakers anew, as a new process would.
    settings.PRICEHUB_CIRCUIT_RESET_SECONDS = 31
    assert circuit_state("binance") == "open"


def test_it_closes_the_circuit_again_after_the_reset_timeout(binance, settings):
    settings.PRICEHUB_CIRCUIT_RESET_SECONDS = 1
    failed_reasons(binance, FAIL_MAX)
    control.clear_faults(binance.base_url)
    time.sleep(1)
    assert fetch(binance).exchange == "binance"
    assert circuit_state("binance") == "closed"


def test_it_records_a_success_with_its_latency(binance):
    fetch(binance)
    stats = health.venue_health("binance")
    assert (stats["requests"], stats["error_rate"], stats["last_error"]) == (1, 0.0, None)
    assert stats["last_success"] is not None
    assert stats["latency_ms"]["mean"] == stats["latency_ms"]["p95"] > 0


def test_it_records_an_error_with_its_detail(binance):
    failed_reasons(binance, 1)
    stats = health.venue_health("binance")
    assert (stats["requests"], stats["error_rate"], stats["last_success"]) == (1, 1.0, None)
    assert stats["last_error"]["detail"] == "binance answered HTTP 503"


def test_it_reports_the_mean_and_95th_percentile_latency():
    health.record("kraken", [health.Sample("ok", ms / 1000) for ms in range(1, 101)])
    assert health.venue_health("kraken")["latency_ms"] == {"mean": 50.5, "p95": 95.0}


def test_it_keeps_only_the_last_100_requests():
    for _ in range(105):
        health.record("kraken", [health.Sample("timeout", 2, "timed out after 2 s")])
    health.record("kraken", [health.Sample("ok", 0.01)])
    stats = health.venue_health("kraken")
    assert (stats["requests"], stats["error_rate"]) == (100, 0.99)


def test_it_notes_a_round_of_many_requests_in_order(binance):
    samples = [health.Sample("timeout", 2, "timed out after 2 s"), health.Sample("ok", 0.01)]
    health.record("kraken", samples)
    stats = health.venue_health("kraken")
    assert (stats["requests"], stats["error_rate"]) == (2, 0.5)
    assert stats["last_success"] is not None
    assert stats["last_error"]["detail"] == "timed out after 2 s"


def test_it_reports_nothing_for_a_venue_never_asked():
    assert health.venue_health("kraken") == {
        "last_success": None,
        "last_error": None,
        "latency_ms": {"mean": None, "p95": None},
        "error_rate": None,
        "requests": 0,
    }


def test_it_counts_each_request_in_prometheus(binance):
    before = requests_counted("binance", "ok")
    fetch(binance)
    assert requests_counted("binance", "ok") == before + 1


@pytest.mark.usefixtures("dead_redis")
def test_it_still_fetches_with_redis_unreachable(binance):
    assert fetch(binance).exchange == "binance"


@pytest.mark.usefixtures("dead_redis")
def test_it_still_opens_the_circuit_in_the_process_with_redis_unreachable(binance):
    failed_reasons(binance, FAIL_MAX)
    with pytest.raises(ExchangeError) as failure:
        fetch(binance)
    assert failure.value.reason == "circuit_open"

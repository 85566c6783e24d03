"""The drip fault: the reply trickles out a few bytes at a time, so no single read times out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
import requests

from mock_exchange_app import control
from mock_exchange_app.tests.test_faults import AT, TICKERS, Venue


@pytest.fixture
def binance(venues: dict[str, str]) -> Iterator[str]:
    """The Binance-style venue served over HTTP, behaving again after the test."""
    yield venues["binance"]
    control.clear_faults(venues["binance"])


def pieces(venue: Venue) -> list[bytes]:
    """Return the BTCUSDT ticker reply as the app hands it to the server, piece by piece."""
    path, query = TICKERS[venue.name]
    environ: dict[str, Any] = {"PATH_INFO": path, "QUERY_STRING": query}
    setup_testing_defaults(environ)
    return list(venue.app(environ, lambda status, headers: None))


def test_it_drips_8_bytes_a_second_by_default() -> None:
    assert Venue("coinbase").put("BTCUSDT", mode="drip") == (
        200,
        {"mode": "drip", "rate": 8, "since": AT.isoformat()},
    )


@pytest.mark.parametrize("rate", [0, -1, "5", True, 2_000_000])
def test_it_refuses_a_rate_that_is_not_a_positive_number_of_bytes(rate: Any) -> None:
    status, body = Venue("coinbase").put("BTCUSDT", mode="drip", rate=rate)
    assert (status, body) == (
        400,
        {"error": "rate must be a number of bytes a second above 0 and at most 1000000"},
    )


@pytest.mark.parametrize("name", ["binance", "coinbase", "kraken"])
def test_it_sends_the_same_reply_a_tenth_of_the_rate_at_a_time(name: str) -> None:
    venue = Venue(name)
    (healthy,) = pieces(venue)
    venue.put("*", mode="drip", rate=1000)
    started = time.monotonic()
    dripped = pieces(venue)
    assert b"".join(dripped) == healthy
    assert {len(piece) for piece in dripped[:-1]} == {100}
    assert time.monotonic() - started >= (len(dripped) - 1) * 0.1


def test_it_outlasts_a_read_timeout_over_http_without_ever_tripping_it(binance: str) -> None:
    control.set_fault(binance, "BTCUSDT", "drip", rate=400)
    started = time.monotonic()
    reply = requests.get(f"{binance}/api/v3/ticker/24hr?symbol=BTCUSDT", timeout=0.5)
    assert reply.json()["symbol"] == "BTCUSDT"
    assert time.monotonic() - started > 1

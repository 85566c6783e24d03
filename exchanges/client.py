"""The one place PriceHub talks HTTP to venues: session, timeouts, size cap, circuit breakers."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pybreaker
import requests
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from requests.adapters import HTTPAdapter

from common.metrics import VENUE_REQUESTS, VENUE_SECONDS
from exchanges import health
from exchanges.adapters import Adapter, get_adapter
from exchanges.models import Exchange
from exchanges.quotes import ExchangeError, Quote

logger = logging.getLogger(__name__)

# A ticker is a few hundred bytes; anything far larger is not a ticker.
MAX_RESPONSE_BYTES = 256 * 1024
# What a venue itself got wrong; only these count towards opening its circuit.
VENUE_FAILURES = frozenset({"timeout", "unreachable", "venue_error", "bad_response"})

_session = requests.Session()
_session.mount("http://", HTTPAdapter(pool_maxsize=32))
_session.mount("https://", HTTPAdapter(pool_maxsize=32))
_session.headers["User-Agent"] = "PriceHub/0.1"
_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="venue")
# One breaker per venue name: shared ones keep their state in Redis, local ones in this
# process's memory while Redis is unreachable.
_shared: dict[str, pybreaker.CircuitBreaker] = {}
_local: dict[str, pybreaker.CircuitBreaker] = {}


def fetch_quote(exchange: Exchange, *, symbol: str, base: str, quote: str) -> Quote:
    """Ask one venue for its ticker of base/quote; raise ExchangeError for anything unusable."""
    adapter = get_adapter(exchange.kind)
    url = adapter.ticker_url(exchange.base_url, base, quote)
    try:
        # calling(), unlike call(), leaves the breaker's lock before the request starts,
        # so requests to one venue still run in parallel.
        with _breaker(exchange.name).calling():
            return _request(exchange, adapter, url, symbol)
    except pybreaker.CircuitBreakerError:
        VENUE_REQUESTS.labels(exchange=exchange.name, outcome="circuit_open").inc()
        message = (
            f"circuit open after {settings.PRICEHUB_CIRCUIT_FAIL_MAX} failures in a row; "
            f"next try within {settings.PRICEHUB_CIRCUIT_RESET_SECONDS:g} s"
        )
        raise ExchangeError(message, reason="circuit_open") from None


def fetch_quotes(
    exchanges: Sequence[Exchange], *, symbol: str, base: str, quote: str
) -> list[Quote | ExchangeError]:
    """Ask every venue at once; return each one's quote or error, in the order given."""
    futures = [
        _pool.submit(_quote_or_error, exchange, symbol=symbol, base=base, quote=quote)
        for exchange in exchanges
    ]
    return [future.result() for future in futures]


def circuit_state(name: str) -> str:
    """Return the state of a venue's circuit: "closed", "open" or "half-open"."""
    return _breaker(name).current_state


def circuit_close(name: str) -> None:
    """Close a venue's circuit now, for every process: its next request goes through."""
    _breaker(name).close()


def _quote_or_error(exchange: Exchange, **kwargs: str) -> Quote | ExchangeError:
    try:
        return fetch_quote(exchange, **kwargs)
    except ExchangeError as exc:
        return exc


def _request(exchange: Exchange, adapter: Adapter, url: str, symbol: str) -> Quote:
    """Ask the venue once and record the outcome and latency."""
    started = time.monotonic()
    try:
        quote = _get_quote(exchange, adapter, url, symbol)
    except ExchangeError as exc:
        _observe(exchange.name, exc.reason, time.monotonic() - started, detail=str(exc))
        raise
    _observe(exchange.name, "ok", time.monotonic() - started)
    return quote


def _get_quote(exchange: Exchange, adapter: Adapter, url: str, symbol: str) -> Quote:
    timeout = (settings.PRICEHUB_CONNECT_TIMEOUT_SECONDS, exchange.timeout_seconds)
    try:
        with _session.get(url, timeout=timeout, stream=True) as response:
            body = _read_capped(response)
            status = response.status_code
    except requests.Timeout as exc:
        message = f"timed out after {exchange.timeout_seconds:g} s"
        raise ExchangeError(message, reason="timeout") from exc
    except requests.RequestException as exc:
        raise ExchangeError(f"unreachable ({type(exc).__name__})", reason="unreachable") from exc
    return adapter.parse(
        status, body, exchange=exchange.name, symbol=symbol, received_at=datetime.now(UTC)
    )


def _observe(name: str, outcome: str, seconds: float, detail: str = "") -> None:
    VENUE_REQUESTS.labels(exchange=name, outcome=outcome).inc()
    VENUE_SECONDS.labels(exchange=name).observe(seconds)
    health.record(name, outcome=outcome, seconds=seconds, detail=detail)


def _read_capped(response: requests.Response) -> bytes:
    body = b""
    for chunk in response.iter_content(chunk_size=16 * 1024):
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise ExchangeError(f"response larger than {MAX_RESPONSE_BYTES} bytes")
    return body


def _breaker(name: str) -> pybreaker.CircuitBreaker:
    """Return the venue's breaker: shared through Redis, or local while Redis is down."""
    breaker = _shared.get(name)
    if breaker is not None:
        return breaker
    storage = health.circuit_storage(name)
    if storage is not None:
        # Redis answers (again): from now on this process shares the venue's circuit.
        _local.pop(name, None)
        return _shared.setdefault(name, _new_breaker(name, storage))
    breaker = _local.get(name)
    if breaker is None:
        # Pricing goes on through a Redis outage, guarded by a breaker of this process alone.
        logger.warning("Redis unreachable: the circuit of %s is kept in this process", name)
        memory = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        breaker = _local.setdefault(name, _new_breaker(name, memory))
    return breaker


def _new_breaker(name: str, storage: pybreaker.CircuitBreakerStorage) -> pybreaker.CircuitBreaker:
    return pybreaker.CircuitBreaker(
        fail_max=settings.PRICEHUB_CIRCUIT_FAIL_MAX,
        reset_timeout=settings.PRICEHUB_CIRCUIT_RESET_SECONDS,
        exclude=[_not_a_venue_failure],
        state_storage=storage,
        name=name,
        # The request that trips the circuit still reports its own reason, a timeout say.
        throw_new_error_on_trip=False,
    )


def _not_a_venue_failure(exc: BaseException) -> bool:
    return not (isinstance(exc, ExchangeError) and exc.reason in VENUE_FAILURES)


@receiver(setting_changed)
def _forget_breakers(*, setting: str, **kwargs: Any) -> None:
    # Tests point the cache at another Redis or change the limits; build breakers anew.
    if setting in {"CACHES", "PRICEHUB_CIRCUIT_FAIL_MAX", "PRICEHUB_CIRCUIT_RESET_SECONDS"}:
        _shared.clear()
        _local.clear()

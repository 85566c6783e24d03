"""The one place PriceHub talks HTTP to venues: session, deadlines, size cap, circuit breakers."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

import pybreaker
import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.db import DatabaseError
from django.dispatch import receiver
from prometheus_client.core import GaugeMetricFamily, Metric
from urllib3.exceptions import HTTPError as TransportError
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as TransportTimeout

from common.metrics import VENUE_REQUESTS, VENUE_SECONDS
from exchanges import health
from exchanges.adapters import Adapter, get_adapter
from exchanges.adapters.base import join_url
from exchanges.models import Exchange
from exchanges.quotes import ExchangeError, Listing, Pair, Quote, UnknownPair
from exchanges.targets import check_base_url

logger = logging.getLogger(__name__)

# What a venue itself got wrong; only these count towards opening its circuit.
VENUE_FAILURES = frozenset({"timeout", "unreachable", "venue_error", "bad_response"})

Result = Quote | ExchangeError
Results = dict[str, Result]  # by PriceHub symbol

# urllib3 itself, not requests: a venue call is most of a refresh's work, and requests' own
# layer doubled its cost. No proxies from the environment: PriceHub goes where the exchange
# row says; and no retries or redirects: a venue's redirect is an answer like any other.
_http = urllib3.PoolManager(maxsize=32, headers={"User-Agent": "PriceHub/0.1"}, retries=False)
# Each venue's round waits for its calls (on the venue's pool, _pool) from a thread of its own.
_rounds = ThreadPoolExecutor(max_workers=32, thread_name_prefix="venue-round")
_GRACE_SECONDS = 0.05
# One breaker per venue name: shared ones keep their state in Redis, local ones in this
# process's memory while Redis is unreachable.
_shared: dict[str, pybreaker.CircuitBreaker] = {}
_local: dict[str, pybreaker.CircuitBreaker] = {}


def fetch_all(
    asks: Sequence[tuple[Exchange, Sequence[Pair]]], *, deadline: float
) -> dict[str, Results]:
    """Ask each venue for its pairs, all venues at once, in as few calls as each allows.

    Return, per venue name, each of its pairs' quote or error by symbol. Nothing waits past
    `deadline` (a time.monotonic() value): a call still running then is a timeout for its
    symbols. Each venue's round passes its circuit breaker once, and counts as one failure
    when it brought not one usable quote.
    """
    asked = {exchange.name: list({p.symbol: p for p in pairs}.values()) for exchange, pairs in asks}
    rounds = {
        exchange.name: _rounds.submit(_round, exchange, asked[exchange.name], deadline)
        for exchange, _ in asks
    }
    # A round ends by the deadline itself; the grace covers handing its answer over.
    wait(rounds.values(), timeout=max(0, deadline - time.monotonic()) + _GRACE_SECONDS)
    results = {}
    for name, future in rounds.items():
        if future.done():
            results[name] = future.result()
        else:
            late = ExchangeError("timed out after the round's deadline", reason="timeout")
            results[name] = dict.fromkeys((pair.symbol for pair in asked[name]), late)
    return results


def fetch_quotes(
    exchanges: Sequence[Exchange], *, symbol: str, base: str, quote: str
) -> list[Result]:
    """Ask every venue at once for one pair; return each one's quote or error, in order."""
    pair = Pair(symbol, base, quote)
    results = fetch_all([(e, [pair]) for e in exchanges], deadline=own_timeouts(exchanges))
    return [results[exchange.name][symbol] for exchange in exchanges]


def fetch_quote(exchange: Exchange, *, symbol: str, base: str, quote: str) -> Quote:
    """Ask one venue for its ticker of base/quote; raise ExchangeError for anything unusable."""
    (result,) = fetch_quotes([exchange], symbol=symbol, base=base, quote=quote)
    if isinstance(result, ExchangeError):
        raise result
    return result


def circuit_state(name: str) -> str:
    """Return the state of a venue's circuit: "closed", "open" or "half-open"."""
    return _breaker(name).current_state


class CircuitStates:
    """Prometheus collector of every enabled venue's circuit, as Redis holds it at the scrape:
    pricehub_venue_circuit_state{exchange, state} is 1 for its current state, else 0."""

    NAME = "pricehub_venue_circuit_state"
    STATES = ("closed", "open", "half-open")

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            self.NAME,
            "Each venue's circuit breaker: 1 for the state it is in",
            labels=["exchange", "state"],
        )
        try:
            names = list(Exchange.objects.filter(enabled=True).values_list("name", flat=True))
        except DatabaseError:
            logger.warning("Circuit states left out of the metrics: no venue list", exc_info=True)
            names = []
        for name in names:
            current = circuit_state(name)
            for state in self.STATES:
                family.add_metric([name, state], float(state == current))
        yield family


def circuit_close(name: str) -> None:
    """Close a venue's circuit now, for every process: its next request goes through."""
    _breaker(name).close()


class RoundOver(ExchangeError):
    """The refresh round's deadline, shorter than the venue's own timeout, cut the call."""


class _NothingUsable(ExchangeError):
    """A bulk answer without one usable ticker: a venue failure, each symbol with its error."""

    def __init__(self, results: Results) -> None:
        first = next(iter(results.values()))
        super().__init__(str(first), first.reason)
        self.results = results


@functools.cache
def _pool(name: str) -> ThreadPoolExecutor:
    # A pool of calls per venue: one venue's many single calls never hold another's bulk
    # call back.
    return ThreadPoolExecutor(max_workers=16, thread_name_prefix=f"venue-{name}")


def own_timeouts(exchanges: Sequence[Exchange]) -> float:
    """Return the deadline that gives each venue its own timeout, after connecting."""
    longest = max((exchange.timeout_seconds for exchange in exchanges), default=0)
    return time.monotonic() + settings.PRICEHUB_CONNECT_TIMEOUT_SECONDS + longest


def _chunks(pairs: list[Pair], size: int) -> list[list[Pair]]:
    return [pairs[start : start + size] for start in range(0, len(pairs), size)]


def _round(exchange: Exchange, pairs: list[Pair], deadline: float) -> Results:
    """Ask one venue for every pair through its breaker; return each symbol's result."""
    samples: list[health.Sample] = []
    try:
        check_base_url(exchange.base_url)
    except ValidationError as exc:
        return _each(pairs, ExchangeError(f"refused: {exc.messages[0]}", reason="unreachable"))
    try:
        # calling(), unlike call(), leaves the breaker's lock before the round starts, so
        # rounds to one venue still run in parallel.
        with _breaker(exchange.name).calling():
            results = _calls(exchange, pairs, deadline, samples)
            if results and not any(isinstance(result, Quote) for result in results.values()):
                raise _NothingUsable(results)
            return results
    except pybreaker.CircuitBreakerError:
        VENUE_REQUESTS.labels(exchange=exchange.name, outcome="circuit_open").inc()
        message = (
            f"circuit open after {settings.PRICEHUB_CIRCUIT_FAIL_MAX} failed rounds in a row; "
            f"next try within {settings.PRICEHUB_CIRCUIT_RESET_SECONDS:g} s"
        )
        return _each(pairs, ExchangeError(message, reason="circuit_open"))
    except _NothingUsable as exc:
        return exc.results
    finally:
        health.record(exchange.name, samples)


def _calls(
    exchange: Exchange, pairs: list[Pair], deadline: float, samples: list[health.Sample]
) -> Results:
    """Make the round's calls, in chunks as large as the venue takes, all at once."""
    adapter, pool = get_adapter(exchange.kind), _pool(exchange.name)
    started = time.monotonic()
    results: Results = {}
    pending = {
        pool.submit(_call, exchange, adapter, chunk, deadline, samples): chunk
        for chunk in _chunks(pairs, adapter.max_pairs)
    }
    while pending:
        done, _ = wait(
            pending, timeout=max(0, deadline - time.monotonic()), return_when=FIRST_COMPLETED
        )
        if not done:
            break
        for future in done:
            chunk = pending.pop(future)
            answer = future.result()
            if len(chunk) > 1 and isinstance(answer[chunk[0].symbol], UnknownPair):
                # One pair the venue does not list fails its whole chunk; ask for each alone.
                for pair in chunk:
                    pending[pool.submit(_call, exchange, adapter, [pair], deadline, samples)] = [
                        pair
                    ]
            else:
                results.update(answer)
    # Cut by the round's deadline, short of the venue's own timeout: not the venue's failure.
    cut = RoundOver if deadline - started < exchange.timeout_seconds else ExchangeError
    late = cut(f"timed out after {deadline - started:.3g} s", reason="timeout")
    for future, chunk in pending.items():
        future.cancel()
        results.update(_each(chunk, late))
    return {pair.symbol: results[pair.symbol] for pair in pairs}


def _call(
    exchange: Exchange,
    adapter: Adapter,
    pairs: list[Pair],
    deadline: float,
    samples: list[health.Sample],
) -> Results:
    """Make one HTTP call for pairs; return each symbol's result and note its outcome."""
    budget = min(exchange.timeout_seconds, deadline - time.monotonic())
    if budget <= 0:
        # Queued behind other calls until the deadline: nothing was asked, nothing is noted.
        return _each(pairs, RoundOver("timed out before asking", reason="timeout"))
    started = time.monotonic()
    try:
        results = _get(exchange, adapter, pairs, budget)
    except ExchangeError as exc:
        _observe(exchange.name, exc.reason, time.monotonic() - started, samples, str(exc))
        return _each(pairs, exc)
    outcome, detail = "ok", ""
    if not any(isinstance(result, Quote) for result in results.values()):
        failure = _NothingUsable(results)
        outcome, detail = failure.reason, str(failure)
    _observe(exchange.name, outcome, time.monotonic() - started, samples, detail)
    return results


def _each(pairs: list[Pair], error: ExchangeError) -> Results:
    return dict.fromkeys((pair.symbol for pair in pairs), error)


def _get(exchange: Exchange, adapter: Adapter, pairs: list[Pair], budget: float) -> Results:
    """GET the pairs' tickers in budget seconds, connecting and reading included."""
    most = settings.PRICEHUB_VENUE_MAX_RESPONSE_BYTES
    most += settings.PRICEHUB_VENUE_MAX_BYTES_PER_PAIR * len(pairs)
    status, body = _fetch(exchange, adapter.url(exchange.base_url, pairs), budget, most)
    return adapter.parse_all(
        status, body, exchange=exchange.name, pairs=pairs, received_at=datetime.now(UTC)
    )


def fetch_catalogue(exchange: Exchange) -> list[Listing]:
    """Return every market the venue's catalogue lists; raise ExchangeError when it cannot
    be had or read."""
    try:
        check_base_url(exchange.base_url)
    except ValidationError as exc:
        raise ExchangeError(f"refused: {exc.messages[0]}", reason="unreachable") from exc
    adapter = get_adapter(exchange.kind)
    url = join_url(exchange.base_url, adapter.catalogue_path)
    most = settings.PRICEHUB_CATALOGUE_MAX_BYTES
    status, body = _fetch(exchange, url, settings.PRICEHUB_CATALOGUE_TIMEOUT_SECONDS, most)
    return adapter.parse_catalogue(status, body)


def _fetch(exchange: Exchange, url: str, budget: float, most: int) -> tuple[int, bytes]:
    """GET url in budget seconds, connecting and reading included; return the status and at
    most `most` bytes of body.

    Only headers sent byte by byte can outlast it (each read of them waits up to budget);
    fetch_all still returns by its deadline.
    """
    ends = time.monotonic() + budget
    timeout = urllib3.Timeout(
        connect=min(settings.PRICEHUB_CONNECT_TIMEOUT_SECONDS, budget), read=budget
    )
    try:
        response = _http.request("GET", url, timeout=timeout, preload_content=False, redirect=False)
        try:
            body = _read_by(response, ends, most)
        except BaseException:
            response.close()  # a connection left mid-answer is not used again
            raise
        response.release_conn()
    except TransportError as exc:
        # A refused or unresolved connection is a timeout by descent in urllib3: unreachable.
        if isinstance(exc, TransportTimeout) and not isinstance(exc, NewConnectionError):
            message = f"timed out after {budget:.3g} s"
            if budget < exchange.timeout_seconds:
                raise RoundOver(message, reason="timeout") from exc
            raise ExchangeError(message, reason="timeout") from exc
        raise ExchangeError(f"unreachable ({type(exc).__name__})", reason="unreachable") from exc
    return response.status, body


def _read_by(response: urllib3.BaseHTTPResponse, ends: float, limit: int) -> bytes:
    """Read the body by `ends` (a monotonic time), however slowly it trickles in."""
    body = bytearray()
    while True:
        left = ends - time.monotonic()
        if left <= 0:
            raise TransportTimeout("body not read by the deadline")
        # The read timeout bounds each read alone: give each one only the time left. The
        # connection is asked anew each time, as it leaves the response once the body ends.
        sock = getattr(response.connection, "sock", None)
        if sock is not None:
            sock.settimeout(left)
        chunk = response.read1(64 * 1024)
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > limit:
            raise ExchangeError(f"response larger than {limit} bytes")


def _observe(
    name: str, outcome: str, seconds: float, samples: list[health.Sample], detail: str
) -> None:
    VENUE_REQUESTS.labels(exchange=name, outcome=outcome).inc()
    VENUE_SECONDS.labels(exchange=name).observe(seconds)
    samples.append(health.Sample(outcome, seconds, detail))


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
    # A pair the venue does not list says nothing about the venue's health, and neither
    # does an answer slower than a round's deadline but within the venue's own timeout.
    if isinstance(exc, UnknownPair | RoundOver):
        return True
    if isinstance(exc, _NothingUsable):
        return all(_not_a_venue_failure(result) for result in exc.results.values())
    return not (isinstance(exc, ExchangeError) and exc.reason in VENUE_FAILURES)


@receiver(setting_changed)
def _forget_breakers(*, setting: str, **kwargs: Any) -> None:
    # Tests point the cache at another Redis or change the limits; build breakers anew.
    if setting in {"CACHES", "PRICEHUB_CIRCUIT_FAIL_MAX", "PRICEHUB_CIRCUIT_RESET_SECONDS"}:
        _shared.clear()
        _local.clear()

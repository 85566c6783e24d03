"""The one place PriceHub talks HTTP to venues: the session, deadlines and size cap, each round
through its venue's circuit (exchanges/circuits.py)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import UTC, datetime

import pybreaker
import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from urllib3.exceptions import HTTPError as TransportError
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as TransportTimeout

from common.metrics import VENUE_REQUESTS, VENUE_SECONDS
from exchanges import circuits, health
from exchanges.adapters import Adapter, get_adapter
from exchanges.adapters.fields import join_url
from exchanges.models import Exchange
from exchanges.quotes import (
    ExchangeError,
    Listing,
    NothingUsable,
    Pair,
    Quote,
    RoundOver,
    UnknownPair,
)
from exchanges.targets import check_base_url

logger = logging.getLogger(__name__)


Result = Quote | ExchangeError
Results = dict[str, Result]  # by PriceHub symbol

# urllib3 itself, not requests: a venue call is most of a refresh's work, and requests' own
# layer doubled its cost. No proxies from the environment: PriceHub goes where the exchange
# row says; and no retries or redirects: a venue's redirect is an answer like any other.
_http = urllib3.PoolManager(maxsize=32, headers={"User-Agent": "PriceHub/0.1"}, retries=False)
# Each venue's round waits for its calls (on the venue's pool, _pool) from a thread of its own.
_rounds = ThreadPoolExecutor(max_workers=32, thread_name_prefix="venue-round")
_GRACE_SECONDS = 0.05


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
    exchanges: Sequence[Exchange], *, symbol: str, base: str, quote: str, market: str | None = None
) -> list[Result]:
    """Ask every venue at once for one pair (by the name market, when given); return each
    one's quote or error, in order."""
    pair = Pair(symbol, base, quote, market)
    results = fetch_all([(e, [pair]) for e in exchanges], deadline=own_timeouts(exchanges))
    return [results[exchange.name][symbol] for exchange in exchanges]


def fetch_quote(
    exchange: Exchange, *, symbol: str, base: str, quote: str, market: str | None = None
) -> Quote:
    """Ask one venue for its ticker of base/quote (by the name market, when given); raise
    ExchangeError for anything unusable."""
    (result,) = fetch_quotes([exchange], symbol=symbol, base=base, quote=quote, market=market)
    if isinstance(result, ExchangeError):
        raise result
    return result


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
        with circuits.breaker(exchange.name).calling():
            results = _calls(exchange, pairs, deadline, samples)
            if results and not any(isinstance(result, Quote) for result in results.values()):
                raise NothingUsable(results)
            return results
    except pybreaker.CircuitBreakerError:
        VENUE_REQUESTS.labels(exchange=exchange.name, outcome="circuit_open").inc()
        message = (
            f"circuit open after {settings.PRICEHUB_CIRCUIT_FAIL_MAX} failed rounds in a row; "
            f"next try within {settings.PRICEHUB_CIRCUIT_RESET_SECONDS:g} s"
        )
        return _each(pairs, ExchangeError(message, reason="circuit_open"))
    except NothingUsable as exc:
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
        failure = NothingUsable(results)
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

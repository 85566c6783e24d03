"""Rounds of calls to the venues: every venue at once, each in as few calls as it allows, by
one deadline, within its limit (exchanges/limits.py) and through its circuit
(exchanges/circuits.py); each call is one GET of exchanges/wire.py."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import UTC, datetime

import pybreaker
from django.conf import settings

from common.metrics import VENUE_REQUESTS, VENUE_SECONDS
from exchanges import circuits, health, limits, wire
from exchanges.adapters import Adapter, get_adapter
from exchanges.models import Exchange
from exchanges.quotes import (
    ExchangeError,
    NothingUsable,
    Pair,
    Quote,
    RateLimited,
    RoundOver,
    UnknownPair,
)

logger = logging.getLogger(__name__)


Result = Quote | ExchangeError
Results = dict[str, Result]  # by PriceHub symbol

# Each venue's round waits for its calls (on the venue's pool, _pool) from a thread of its own.
_rounds = ThreadPoolExecutor(max_workers=32, thread_name_prefix="venue-round")
_GRACE_SECONDS = 0.05


def fetch_all(
    asks: Sequence[tuple[Exchange, Sequence[Pair]]], *, deadline: float, hot: bool = False
) -> dict[str, Results]:
    """Ask each venue for its pairs, all venues at once, in as few calls as each allows.

    Return, per venue name, each of its pairs' quote or error by symbol. Nothing waits past
    `deadline` (a time.monotonic() value): a call still running then is a timeout for its
    symbols. Each venue's round passes its circuit breaker once, and counts as one failure
    when it brought not one usable quote. Each call keeps within the venue's limit
    (exchanges/limits.py); hot calls may take the share of it kept for them.
    """
    asked = {exchange.name: list({p.symbol: p for p in pairs}.values()) for exchange, pairs in asks}
    rounds = {
        exchange.name: _rounds.submit(_round, exchange, asked[exchange.name], deadline, hot)
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


def _round(exchange: Exchange, pairs: list[Pair], deadline: float, hot: bool) -> Results:
    """Ask one venue for every pair through its breaker; return each symbol's result."""
    samples: list[health.Sample] = []
    try:
        # Refused before the breaker: a venue PriceHub may not ask has not failed.
        wire.target(exchange.base_url)
    except ExchangeError as exc:
        return _each(pairs, exc)
    try:
        # calling(), unlike call(), leaves the breaker's lock before the round starts, so
        # rounds to one venue still run in parallel.
        with circuits.breaker(exchange.name).calling():
            results = _calls(exchange, pairs, deadline, hot, samples)
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
    exchange: Exchange, pairs: list[Pair], deadline: float, hot: bool, samples: list[health.Sample]
) -> Results:
    """Make the round's calls, in chunks as large as the venue takes, all at once."""
    adapter, pool = get_adapter(exchange.kind), _pool(exchange.name)
    started = time.monotonic()
    results: Results = {}
    pending = {
        pool.submit(_call, exchange, adapter, chunk, deadline, hot, samples): chunk
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
                    call = pool.submit(_call, exchange, adapter, [pair], deadline, hot, samples)
                    pending[call] = [pair]
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
    hot: bool,
    samples: list[health.Sample],
) -> Results:
    """Make one HTTP call for pairs within the venue's limit; return each symbol's result
    and note its outcome."""
    cost, now = adapter.cost(len(pairs)), time.monotonic()
    # Waiting for room ends a step before the round's deadline, so that the round hears why
    # the call was not made; a hot round publishes on time, the venue's last good quote
    # standing in, not late.
    room_by = deadline - limits.STEP_SECONDS
    if hot:
        room_by = min(room_by, now + settings.PRICEHUB_VENUE_HOT_WAIT_SECONDS)
    if deadline > now and (
        held := limits.hold(exchange.name, adapter.limit, cost, hot=hot, deadline=room_by)
    ):
        return _each(pairs, held)
    budget = min(exchange.timeout_seconds, deadline - time.monotonic())
    if budget <= 0:
        # Queued behind other calls until the deadline: nothing was asked, nothing is noted.
        return _each(pairs, RoundOver("timed out before asking", reason="timeout"))
    started = time.monotonic()
    try:
        results = _get(exchange, adapter, pairs, budget)
    except ExchangeError as exc:
        if isinstance(exc, RateLimited):
            limits.refused(exchange.name, exc)
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
    most += settings.PRICEHUB_VENUE_MAX_BYTES_PER_PAIR * adapter.answer_size(len(pairs))
    status, body = wire.fetch(
        exchange, adapter, adapter.url(exchange.base_url, pairs), budget, most
    )
    return adapter.parse_all(
        status, body, exchange=exchange.name, pairs=pairs, received_at=datetime.now(UTC)
    )


def _observe(
    name: str, outcome: str, seconds: float, samples: list[health.Sample], detail: str
) -> None:
    VENUE_REQUESTS.labels(exchange=name, outcome=outcome).inc()
    VENUE_SECONDS.labels(exchange=name).observe(seconds)
    samples.append(health.Sample(outcome, seconds, detail))

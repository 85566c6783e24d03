"""Each venue's circuit breaker: open after CIRCUIT_FAIL_MAX failed rounds in a row, shared by
every process through Redis, kept in the process while Redis is unreachable."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pybreaker
from django.conf import settings
from django.core.signals import setting_changed
from django.db import DatabaseError
from django.dispatch import receiver
from prometheus_client.core import GaugeMetricFamily, Metric

from exchanges import health
from exchanges.models import Exchange
from exchanges.quotes import ExchangeError, NothingUsable, RoundOver, UnknownPair

logger = logging.getLogger(__name__)

# What a venue itself got wrong; only these count towards opening its circuit.
VENUE_FAILURES = frozenset({"timeout", "unreachable", "venue_error", "bad_response"})
# One breaker per venue name: shared ones keep their state in Redis, local ones in this
# process's memory while Redis is unreachable.
_shared: dict[str, pybreaker.CircuitBreaker] = {}
_local: dict[str, pybreaker.CircuitBreaker] = {}


def circuit_state(name: str) -> str:
    """Return the state of a venue's circuit: "closed", "open" or "half-open"."""
    return breaker(name).current_state


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
    breaker(name).close()


def breaker(name: str) -> pybreaker.CircuitBreaker:
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
    if isinstance(exc, NothingUsable):
        return all(_not_a_venue_failure(result) for result in exc.results.values())
    return not (isinstance(exc, ExchangeError) and exc.reason in VENUE_FAILURES)


@receiver(setting_changed)
def _forget_breakers(*, setting: str, **kwargs: Any) -> None:
    # Tests point the cache at another Redis or change the limits; build breakers anew.
    if setting in {"CACHES", "PRICEHUB_CIRCUIT_FAIL_MAX", "PRICEHUB_CIRCUIT_RESET_SECONDS"}:
        _shared.clear()
        _local.clear()

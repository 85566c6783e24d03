"""Venue health in Redis, shared by every process: circuit state and recent requests.

Their keys are in common.redis_store.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from statistics import fmean
from typing import NamedTuple, TypedDict

import pybreaker

from common import redis_store
from common.redis_store import keys

# Enough requests for a meaningful p95, few enough to show how a venue behaves now.
WINDOW = 100


class LastError(TypedDict):
    at: datetime
    reason: str  # the failure's code: timeout, unreachable, venue_error, ...
    detail: str  # its sentence, which may name the venue's address or repeat its words


class Latency(TypedDict):
    mean: float | None
    p95: float | None


class VenueHealth(TypedDict):
    last_success: datetime | None
    last_error: LastError | None
    latency_ms: Latency  # over every request in the window, failed ones included
    error_rate: float | None  # failed share of the window; None before any request
    requests: int  # in the window


def circuit_storage(name: str) -> pybreaker.CircuitRedisStorage | None:
    """Return the Redis storage of a venue's circuit breaker, or None while Redis is down."""
    try:
        return pybreaker.CircuitRedisStorage(
            pybreaker.STATE_CLOSED, redis_store.connection(), namespace=keys.circuit(name)
        )
    except redis_store.UNAVAILABLE:
        return None  # the client falls back to a circuit of its own, and says so once


class Sample(NamedTuple):
    """One request to a venue: "ok" or its failure reason, how long it took, the error."""

    outcome: str
    seconds: float
    detail: str = ""


def record(name: str, samples: list[Sample]) -> None:
    """Note a venue's requests, in the order they ended, in one round trip."""
    if not samples:
        return
    now = datetime.now(UTC).isoformat()
    last: dict[str, str] = {}
    for sample in samples:
        if sample.outcome == "ok":
            last["success"] = now
        else:
            last |= {"error_at": now, "error": sample.detail, "error_reason": sample.outcome}
    requests = keys.venue_requests(name)
    # Health is for operators; a lost sample must never fail a fetch.
    with (
        redis_store.best_effort(f"the health of venue {name}"),
        redis_store.connection().pipeline() as pipe,
    ):
        pipe.lpush(requests, *(_entry(sample) for sample in samples))
        pipe.ltrim(requests, 0, WINDOW - 1)
        pipe.hset(keys.venue_last(name), mapping=last)
        pipe.execute()


def venue_health(name: str) -> VenueHealth:
    """Return a venue's last success and error, and its error rate and latency of late."""
    with redis_store.connection().pipeline() as pipe:
        pipe.hgetall(keys.venue_last(name))
        pipe.lrange(keys.venue_requests(name), 0, -1)
        raw_last, entries = pipe.execute()
    last = {field.decode(): value.decode() for field, value in raw_last.items()}
    samples = [sample for sample in map(_sample, entries) if sample is not None]
    failures = sum(outcome != "ok" for outcome, _ in samples)
    return {
        "last_success": _time(last.get("success")),
        "last_error": _last_error(last),
        "latency_ms": _latency(sorted(float(ms) for _, ms in samples)),
        "error_rate": round(failures / len(samples), 4) if samples else None,
        "requests": len(samples),
    }


def _entry(sample: Sample) -> bytes:
    # A request as the venue's list keeps it: [outcome, milliseconds].
    return json.dumps([sample.outcome, round(sample.seconds * 1000, 3)]).encode()


def _sample(entry: bytes) -> tuple[str, float] | None:
    # The outcome and milliseconds _entry kept; None for an entry of an older form.
    try:
        outcome, milliseconds = json.loads(entry)
        return str(outcome), float(milliseconds)
    except (ValueError, TypeError):
        return None


def _time(iso: str | None) -> datetime | None:
    return None if iso is None else datetime.fromisoformat(iso)


def _last_error(last: dict[str, str]) -> LastError | None:
    if "error_at" not in last:
        return None
    return {
        "at": datetime.fromisoformat(last["error_at"]),
        "reason": last.get("error_reason", "unknown"),  # an error kept before reasons were
        "detail": last["error"],
    }


def _latency(ordered_ms: list[float]) -> Latency:
    """Return the mean and the nearest-rank 95th percentile of latencies sorted ascending."""
    if not ordered_ms:
        return {"mean": None, "p95": None}
    p95 = ordered_ms[math.ceil(0.95 * len(ordered_ms)) - 1]
    return {"mean": round(fmean(ordered_ms), 1), "p95": round(p95, 1)}

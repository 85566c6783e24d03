"""Each venue's request limits, honoured by every process at once.

Two rules, both kept in Redis so that every worker process shares them (and kept in this
process alone while Redis is unreachable, as the circuits are):

- A budget: the venue's documented limit (Adapter.limit: Binance's request weight a minute,
  Coinbase's requests a second, Kraken's calls) as a moving window (the `limits` library's). A
  call takes its cost from it before it is made, waiting for room until a step before its
  round's deadline (a hot ticker call VENUE_HOT_WAIT_SECONDS at most, exchanges/client.py).
  Other calls leave HOT_RESERVE of the budget to the hot assets' calls and the catalogues'
  reads.
- A wait: when a venue refuses for its limit (HTTP 429 or 418, or its own words) or its own
  count of what PriceHub used nears the limit (Binance's X-MBX-USED-WEIGHT-1M), no call is made
  to it until the time it named, or the one it documents, has passed.

A call held back or refused for a limit is excluded with reason `rate_limited`: never a price
fault, never a failure of the venue's circuit, never a reason to ask again sooner.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypedDict

from django.conf import settings
from limits.storage import MemoryStorage

from common import redis_store
from common.metrics import VENUE_HELD, VENUE_REFUSED
from common.redis_store import keys
from exchanges.quotes import RateLimited

logger = logging.getLogger(__name__)

STEP_SECONDS = 0.05  # how often a call waiting for room in its budget looks again
_local = MemoryStorage()  # the budgets while Redis is unreachable
_alone: set[str] = set()  # the venues whose budget this process keeps alone, and has said so


@dataclass(frozen=True, slots=True)
class Limit:
    """A venue's documented limit: amount (requests, or Binance's weight) per seconds."""

    amount: int
    seconds: int
    unit: str = "requests"

    def __str__(self) -> str:
        per = "a second" if self.seconds == 1 else f"per {self.seconds} s"
        return f"{self.amount} {self.unit} {per}"


class LimitState(TypedDict):
    rule: str
    waiting_until: datetime | None
    why: str | None
    refused: int
    held: int


def hold(name: str, limit: Limit, cost: int, *, hot: bool, deadline: float) -> RateLimited | None:
    """Take cost from venue name's budget, waiting for room until deadline (a monotonic
    time); return None when the call may be made, else why it may not."""
    waiting = _waiting(name)
    if waiting is not None:
        until, why = waiting
        return RateLimited(f"{name} asked to wait until {until:%H:%M:%S} UTC ({why}); not asked")
    if not settings.PRICEHUB_VENUE_LIMITS:
        return None
    spare = 0 if hot else math.ceil(round(limit.amount * settings.PRICEHUB_VENUE_HOT_RESERVE, 6))
    while True:
        if _take(name, limit, cost, spare):
            return None
        if time.monotonic() + STEP_SECONDS > deadline:
            break
        time.sleep(STEP_SECONDS)
    VENUE_HELD.labels(exchange=name).inc()
    _count(name, "held")
    kept = f", {settings.PRICEHUB_VENUE_HOT_RESERVE:.0%} of it kept for hot assets" if spare else ""
    return RateLimited(f"held back to keep within {name}'s limit of {limit}{kept}; not asked")


def refused(name: str, refusal: RateLimited) -> None:
    """Note that venue name refused a call for its limit, and wait as long as it asked."""
    VENUE_REFUSED.labels(exchange=name).inc()
    _count(name, "refused")
    logger.warning("%s refused a call for its rate limit: %s", name, refusal)
    wait(name, refusal.wait or 0, str(refusal))


def used(name: str, limit: Limit, amount: int) -> None:
    """Note the venue's own count of what this address used in its current window (Binance's
    X-MBX-USED-WEIGHT-1M); near the limit, wait for the window's end."""
    if amount + settings.PRICEHUB_VENUE_USED_MARGIN * limit.amount < limit.amount:
        return
    left = limit.seconds - time.time() % limit.seconds
    wait(name, left, f"{amount} of its {limit} used")


def wait(name: str, seconds: float, why: str) -> None:
    """Make no call to venue name for seconds, unless already told to wait longer."""
    if seconds <= 0:
        return
    until = datetime.now(UTC) + timedelta(seconds=seconds)
    waiting = _waiting(name)
    if waiting is not None and waiting[0] >= until:
        return
    record = json.dumps({"until": until.isoformat(), "why": why})
    with redis_store.best_effort(f"the wait asked by venue {name}"):
        redis_store.connection().set(keys.venue_wait(name), record, px=math.ceil(seconds * 1000))


def state(name: str, limit: Limit) -> LimitState:
    """Return the venue's limit, the wait it asked for if any, and how many calls it refused
    and PriceHub held back."""
    waiting = _waiting(name)
    with redis_store.connection().pipeline() as pipe:
        pipe.hget(keys.venue_limits(name), "refused")
        pipe.hget(keys.venue_limits(name), "held")
        counts = [int(value or 0) for value in pipe.execute()]
    return {
        "rule": str(limit),
        "waiting_until": None if waiting is None else waiting[0],
        "why": None if waiting is None else waiting[1],
        "refused": counts[0],
        "held": counts[1],
    }


def _waiting(name: str) -> tuple[datetime, str] | None:
    try:
        raw = redis_store.connection().get(keys.venue_wait(name))
    except redis_store.UNAVAILABLE:
        return None
    if raw is None:
        return None
    record = json.loads(raw)
    return datetime.fromisoformat(record["until"]), record["why"]


def _count(name: str, what: str) -> None:
    with redis_store.best_effort(f"the limit counts of venue {name}"):
        redis_store.connection().hincrby(keys.venue_limits(name), what, 1)


def _take(name: str, limit: Limit, cost: int, spare: int) -> bool:
    """Take cost from the venue's budget if spare is left after it, in one atomic step: from
    the budget shared through Redis, or this process's own while Redis is unreachable."""
    key, ceiling = f"{name}/{limit.amount}/{limit.seconds}", limit.amount - spare
    try:
        taken = redis_store.budgets().acquire_entry(key, ceiling, limit.seconds, amount=cost)
    except redis_store.UNAVAILABLE:
        if name not in _alone:
            logger.warning("Redis unreachable: the budget of %s is kept in this process", name)
            _alone.add(name)
        return _local.acquire_entry(key, ceiling, limit.seconds, amount=cost)
    _alone.discard(name)
    return taken

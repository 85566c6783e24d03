"""The simulated market's conditions, which every venue process shares: the currencies' rates,
how volatile the market is, jumps of an asset and venues that follow the truth late.

PUT /sim/market changes them for every venue, whichever one it is sent to, for example
{"rates": {"USDT": "0.97"}} (a depeg), {"volatility": 3}, {"jump": {"base": "BTC",
"percent": -2, "seconds": 5}} or {"lag": {"kraken": 3}}; DELETE /sim/market puts the defaults
back. The changes are kept in order in one file every venue process reads, SIM_MARKET_FILE, and
each takes effect LEAD_SECONDS after it was made (its `at`), a reset too: every process has read
the file again by then, so that the truth and every venue's books agree exactly. A reset drops
the changes before the reset before it, so the truth of any moment since the last but one reset
is told as it was.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

from mock_exchange_app.market_change import DEFAULT_RATES, parsed

LEAD_SECONDS = 0.25
_REREAD_SECONDS = 0.05  # how often a process looks at the file: well within LEAD_SECONDS
_MAX_CHANGES = 500  # a market with more is reset (DELETE) before it takes another


@dataclass(frozen=True, slots=True)
class Jump:
    """The base's truth moves by percent, evenly in log terms, over seconds from start."""

    base: str
    percent: Decimal
    start: float  # epoch seconds
    seconds: float

    def factor(self, t: float) -> float:
        """Return how far the jump has moved the truth at t, as a factor."""
        progress = min(1.0, max(0.0, (t - self.start) / self.seconds))
        return math.exp(math.log1p(float(self.percent) / 100) * progress)


@dataclass(frozen=True, slots=True)
class Conditions:
    """The market's changes, in the order made, each from its time (epoch seconds) on; a
    reset ({"reset": True}) puts the defaults back from its own time on."""

    changes: tuple[tuple[float, Mapping[str, Any]], ...] = ()
    _starts: tuple[float, ...] = field(init=False)  # of each epoch: the first, then each reset's
    _epochs: tuple[_Epoch, ...] = field(init=False)

    def __post_init__(self) -> None:
        starts: list[float] = [-math.inf]
        epochs: list[list[tuple[float, Mapping[str, Any]]]] = [[]]
        for at, change in self.changes:
            if change.get("reset"):
                starts.append(at)
                epochs.append([])
            else:
                epochs[-1].append((at, change))
        object.__setattr__(self, "_starts", tuple(starts))
        object.__setattr__(self, "_epochs", tuple(_Epoch(tuple(each)) for each in epochs))

    def moved(self, base: str, t: float, walk: Callable[[float], float], scale: float) -> float:
        """Return the factor by which the conditions move the truth of an asset of base at t
        (_Epoch.moved)."""
        return self._at(t).moved(base, t, walk, scale)

    def rates(self, t: float) -> dict[str, Decimal]:
        """Return the currencies' rates at t, USD a unit."""
        return self._at(t).rates(t)

    def lag(self, venue: str, t: float) -> float:
        """Return how many seconds late the venue follows the truth at t."""
        return self._at(t).lag(venue, t)

    def shown(self) -> dict[str, Any]:
        """Return the conditions once every change has taken effect, as /sim/market shows them."""
        return self._epochs[-1].shown()

    def since_reset(self) -> tuple[tuple[float, Mapping[str, Any]], ...]:
        """Return the changes from the last reset on, that reset first (all without one)."""
        resets = [n for n, (_, change) in enumerate(self.changes) if change.get("reset")]
        return self.changes[resets[-1] if resets else 0 :]

    def _at(self, t: float) -> _Epoch:
        return self._epochs[bisect_right(self._starts, t) - 1]


@dataclass(frozen=True, slots=True)
class _Epoch:
    """The market's changes between two resets, in the order made, each from its time on."""

    changes: tuple[tuple[float, Mapping[str, Any]], ...] = ()
    jumps: tuple[Jump, ...] = field(init=False)
    volatility: tuple[tuple[float, float], ...] = field(init=False)  # (from, multiplier)

    def __post_init__(self) -> None:
        jumps, volatility = [], []
        for at, change in self.changes:
            if (jump := change.get("jump")) is not None:
                percent, seconds = Decimal(jump["percent"]), float(jump["seconds"])
                jumps.append(Jump(jump["base"], percent, at, seconds))
            if (multiplier := change.get("volatility")) is not None:
                volatility.append((at, float(multiplier)))
        object.__setattr__(self, "jumps", tuple(jumps))
        object.__setattr__(self, "volatility", tuple(volatility))

    def moved(self, base: str, t: float, walk: Callable[[float], float], scale: float) -> float:
        """Return the factor by which the conditions move the truth of an asset of base at t,
        its quiet truth being exp(scale * walk(t)): its base's jumps, and its walk since each
        change of volatility, scaled by that change until the next."""
        if not self.changes:
            return 1.0
        factor = math.prod(jump.factor(t) for jump in self.jumps if jump.base == base)
        walked = scale * sum(
            (multiplier - 1) * (walk(min(t, end)) - walk(start))
            for (start, multiplier), (end, _) in pairwise([*self.volatility, (math.inf, 1.0)])
            if start < t
        )
        return factor * math.exp(walked)

    def rates(self, t: float) -> dict[str, Decimal]:
        """Return the currencies' rates at t, USD a unit."""
        rates = dict(DEFAULT_RATES)
        for at, change in self.changes:
            if at <= t and "rates" in change:
                rates |= {code: Decimal(value) for code, value in change["rates"].items()}
        return rates

    def lag(self, venue: str, t: float) -> float:
        """Return how many seconds late the venue follows the truth at t."""
        lag = 0.0
        for at, change in self.changes:
            if at <= t and venue in change.get("lag", {}):
                lag = float(change["lag"][venue])
        return lag

    def shown(self) -> dict[str, Any]:
        last = math.inf
        lags = {venue for _, change in self.changes for venue in change.get("lag", {})}
        return {
            "rates": {code: str(value) for code, value in self.rates(last).items()},
            "volatility": str(self.volatility[-1][1] if self.volatility else 1),
            "lags": {venue: str(self.lag(venue, last)) for venue in sorted(lags)},
            "jumps": [
                {
                    "base": jump.base,
                    "percent": str(jump.percent),
                    "seconds": str(jump.seconds),
                    "start": _iso(jump.start),
                }
                for jump in self.jumps
            ],
        }


_lock = threading.Lock()
_read: tuple[float, float | None, Conditions] = (-math.inf, None, Conditions())


def current() -> Conditions:
    """Return the market's conditions as SIM_MARKET_FILE holds them, read again at most every
    _REREAD_SECONDS."""
    global _read
    checked, mtime, conditions = _read
    if time.monotonic() - checked < _REREAD_SECONDS:
        return conditions
    with _lock:
        path = _file()
        try:
            now_mtime = path.stat().st_mtime if path else None
        except FileNotFoundError:
            now_mtime = None
        if now_mtime != mtime:
            conditions = _load(path) if now_mtime is not None else Conditions()
        _read = (time.monotonic(), now_mtime, conditions)
        return conditions


def control(
    method: str, body: bytes, now: float, *, venues: Collection[str], bases: Collection[str]
) -> tuple[int, Any]:
    """Answer /sim/market: GET shows the conditions, PUT makes a change and DELETE puts the
    defaults back, each from now + LEAD_SECONDS."""
    if method == "GET":
        return 200, current().shown()
    if method not in ("PUT", "DELETE"):
        return 405, {"error": "method not allowed"}
    path = _file()
    if path is None:
        return 409, {"error": "SIM_MARKET_FILE is not set: the venues share no market control"}
    if method == "DELETE":
        change: dict[str, Any] = {"reset": True}
    else:
        try:
            change = parsed(body, venues=venues, bases=bases)
        except ValueError as error:
            return 400, {"error": str(error)}
    known = _load(path) if path.exists() else Conditions()
    if method == "PUT" and len(known.since_reset()) >= _MAX_CHANGES:
        return 409, {"error": f"the market holds {_MAX_CHANGES} changes; DELETE it first"}
    at = now + LEAD_SECONDS
    kept = known.since_reset() if method == "DELETE" else known.changes
    conditions = Conditions((*kept, (at, change)))
    temporary = path.with_suffix(".tmp")
    stored = [{"at": when, **each} for when, each in conditions.changes]
    temporary.write_text(json.dumps({"changes": stored}))
    temporary.replace(path)
    return 200, {**_keep(conditions), "at": _iso(at)}


def _keep(conditions: Conditions) -> dict[str, Any]:
    # This process answers from the new conditions at once; the others within _REREAD_SECONDS.
    global _read
    path = _file()
    mtime = path.stat().st_mtime if path is not None and path.exists() else None
    with _lock:
        _read = (time.monotonic(), mtime, conditions)
    return conditions.shown()


def _load(path: Path) -> Conditions:
    stored = json.loads(path.read_text())["changes"]
    return Conditions(tuple((each.pop("at"), each) for each in stored))


def _file() -> Path | None:
    raw = os.environ.get("SIM_MARKET_FILE")
    return Path(raw) if raw else None


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

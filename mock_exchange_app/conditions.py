"""The simulated market's conditions, which every venue process shares: the currencies' rates,
how volatile the market is, jumps of an asset and venues that follow the truth late.

PUT /sim/market changes them for every venue, whichever one it is sent to, for example
{"rates": {"USDT": "0.97"}} (a depeg), {"volatility": 3}, {"jump": {"base": "BTC",
"percent": -2, "seconds": 5}} or {"lag": {"kraken": 3}}; DELETE /sim/market puts the defaults
back. The changes are kept in order in one file every venue process reads, SIM_MARKET_FILE, and
each takes effect LEAD_SECONDS after it was made (its `at`): every process has read the file
again by then, so that the truth and every venue's books agree exactly.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path
from typing import Any

DEFAULT_RATES = {"USDT": Decimal(1), "EUR": Decimal("1.08")}  # USD a unit
LEAD_SECONDS = 0.25
_REREAD_SECONDS = 0.05  # how often a process looks at the file: well within LEAD_SECONDS
_MAX_CHANGES = 500  # a market with more is reset (DELETE) before it takes another
_RATES = (Decimal("0.01"), Decimal(100))
_VOLATILITY = (Decimal(0), Decimal(100))
_JUMP_PERCENT = (Decimal(-50), Decimal(100))
_JUMP_SECONDS = (Decimal("0.1"), Decimal(3600))
_LAG_SECONDS = (Decimal(0), Decimal(60))
USAGE = (
    'the body sets any of {"rates": {"USDT": "0.97"}}, {"volatility": 3}, '
    '{"jump": {"base": "BTC", "percent": -2, "seconds": 5}} and {"lag": {"kraken": 3}}'
)


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
    """The market's changes, in the order made, each from its time (epoch seconds) on."""

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
        """Return the conditions once every change has taken effect, as /sim/market shows them."""
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
    """Answer /sim/market: GET shows the conditions, PUT makes a change (from now +
    LEAD_SECONDS), DELETE puts the defaults back."""
    if method == "GET":
        return 200, current().shown()
    if method not in ("PUT", "DELETE"):
        return 405, {"error": "method not allowed"}
    path = _file()
    if path is None:
        return 409, {"error": "SIM_MARKET_FILE is not set: the venues share no market control"}
    if method == "DELETE":
        path.unlink(missing_ok=True)
        return 200, _keep(Conditions())
    try:
        change = _parsed(body, venues=venues, bases=bases)
    except ValueError as error:
        return 400, {"error": str(error)}
    changes = _load(path).changes if path.exists() else ()
    if len(changes) >= _MAX_CHANGES:
        return 409, {"error": f"the market holds {_MAX_CHANGES} changes; DELETE it first"}
    at = now + LEAD_SECONDS
    conditions = Conditions((*changes, (at, change)))
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


def _parsed(body: bytes, *, venues: Collection[str], bases: Collection[str]) -> dict[str, Any]:
    """Return the change the body asks for, in the file's form (numbers as strings)."""
    try:
        given = json.loads(body or b"{}")
    except ValueError:
        raise ValueError(USAGE) from None
    if not isinstance(given, dict) or not given or set(given) - set(_PARTS):
        raise ValueError(USAGE)
    return {key: _PARTS[key](value, venues, bases) for key, value in given.items()}


def _rates(value: Any, _venues: Collection[str], _bases: Collection[str]) -> dict[str, str]:
    rates = _mapping(value, "rates maps currencies to USD a unit")
    for code in rates:
        if code not in DEFAULT_RATES:
            raise ValueError(f"{code} has no rate of its own; rates: {', '.join(DEFAULT_RATES)}")
    return {code: _number(code, raw, _RATES) for code, raw in rates.items()}


def _volatility(value: Any, _venues: Collection[str], _bases: Collection[str]) -> str:
    return _number("volatility", value, _VOLATILITY)


def _jump(value: Any, _venues: Collection[str], bases: Collection[str]) -> dict[str, str]:
    shape = 'jump is {"base": "BTC", "percent": -2, "seconds": 5}'
    jump = _mapping(value, shape)
    if set(jump) != {"base", "percent", "seconds"}:
        raise ValueError(shape)
    if jump["base"] not in bases:
        raise ValueError(f"jump: no asset {jump['base']!r} is listed")
    return {
        "base": jump["base"],
        "percent": _number("jump percent", jump["percent"], _JUMP_PERCENT),
        "seconds": _number("jump seconds", jump["seconds"], _JUMP_SECONDS),
    }


def _lag(value: Any, venues: Collection[str], _bases: Collection[str]) -> dict[str, str]:
    lag = _mapping(value, "lag maps venues to seconds")
    if unknown := set(lag) - set(venues):
        raise ValueError(f"lag: no venue {sorted(unknown)[0]!r}; venues: {', '.join(venues)}")
    return {venue: _number(f"{venue} lag", raw, _LAG_SECONDS) for venue, raw in lag.items()}


_PARTS = {"rates": _rates, "volatility": _volatility, "jump": _jump, "lag": _lag}


def _mapping(value: Any, error: str) -> Mapping[str, Any]:
    if not isinstance(value, dict) or not value:
        raise ValueError(error)
    return value


def _number(name: str, raw: Any, bounds: tuple[Decimal, Decimal]) -> str:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"{name}: {raw!r} is not a number")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ValueError(f"{name}: {raw!r} is not a number") from None
    low, high = bounds
    if not value.is_finite() or not low <= value <= high:
        raise ValueError(f"{name}: from {low} to {high}")
    return str(value)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

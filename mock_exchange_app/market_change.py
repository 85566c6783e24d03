"""What PUT /sim/market may ask for (conditions.py), checked and put in the form the market's
file keeps: numbers as strings, within sane bounds, for venues and bases that exist."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

DEFAULT_RATES = {"USDT": Decimal(1), "EUR": Decimal("1.08")}  # USD a unit
_RATES = (Decimal("0.01"), Decimal(100))
_VOLATILITY = (Decimal(0), Decimal(100))
_JUMP_PERCENT = (Decimal(-50), Decimal(100))
_JUMP_SECONDS = (Decimal("0.1"), Decimal(3600))
_LAG_SECONDS = (Decimal(0), Decimal(60))
USAGE = (
    'the body sets any of {"rates": {"USDT": "0.97"}}, {"volatility": 3}, '
    '{"jump": {"base": "BTC", "percent": -2, "seconds": 5}} and {"lag": {"kraken": 3}}'
)


def parsed(body: bytes, *, venues: Collection[str], bases: Collection[str]) -> dict[str, Any]:
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

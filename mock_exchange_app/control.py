"""Drive a simulated venue's /sim routes over HTTP: set and clear faults, read the truth."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests

from mock_exchange_app.conditions import LEAD_SECONDS

# The /sim routes answer at once, but only once one of the venue's 16 threads takes them: while
# it is slow (3 s a reply) its threads are held by the ticker requests that came first, and a
# clear sent to Coinbase's (one request a product) behind 12 s of 20 requests a second
# waited 30 s for one.
_TIMEOUT = 60.0  # seconds
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def set_fault(base_url: str, symbol: str, mode: str, **params: Any) -> None:
    """Make the venue misbehave for `symbol` ("*" for every symbol) until cleared."""
    # Decimals (an outlier factor) go out as strings, which the venue reads exactly.
    body = json.dumps({"mode": mode, **params}, default=str)
    reply = requests.put(
        _url(base_url, f"/sim/faults/{symbol}"),
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=_TIMEOUT,
    )
    reply.raise_for_status()


def clear_faults(base_url: str) -> None:
    """Make the venue behave again for every symbol."""
    requests.delete(_url(base_url, "/sim/faults"), timeout=_TIMEOUT).raise_for_status()


def set_market(base_url: str, **control: Any) -> datetime:
    """Change the whole simulated market through any venue, e.g. rates={"USDT": "0.97"},
    jump={"base": "BTC", "percent": -2, "seconds": 5} or lag={"kraken": 3}; return once every
    venue has taken the change, with the time it took effect."""
    body = json.dumps(control, default=str)
    reply = requests.put(_url(base_url, "/sim/market"), data=body, timeout=_TIMEOUT)
    reply.raise_for_status()
    at = datetime.fromisoformat(reply.json()["at"])
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))
    return at


def reset_market(base_url: str) -> None:
    """Put the simulated market's defaults back; return once every venue has."""
    requests.delete(_url(base_url, "/sim/market"), timeout=_TIMEOUT).raise_for_status()
    time.sleep(LEAD_SECONDS)


def limits(base_url: str) -> dict[str, Any]:
    """Return the venue's rate limit and how many calls it refused: {"refused": N, ...}."""
    reply = requests.get(_url(base_url, "/sim/limits"), timeout=_TIMEOUT)
    reply.raise_for_status()
    return dict(reply.json())


def set_limit(base_url: str, limit: int) -> None:
    """Give the venue another rate limit (Binance's weight a minute, the others' bursts)."""
    body = json.dumps({"limit": limit})
    requests.put(_url(base_url, "/sim/limits"), data=body, timeout=_TIMEOUT).raise_for_status()


def reset_limits(base_url: str) -> None:
    """Put the venue's documented rate limit back, with nothing counted."""
    requests.delete(_url(base_url, "/sim/limits"), timeout=_TIMEOUT).raise_for_status()


def true_price(base_url: str, symbol: str, at: datetime | None = None) -> Decimal:
    """Return the simulated market's true price of `symbol` at `at` (default now)."""
    params = {} if at is None else {"at": _epoch_ms(at)}
    reply = requests.get(_url(base_url, f"/sim/truth/{symbol}"), params=params, timeout=_TIMEOUT)
    reply.raise_for_status()
    return Decimal(reply.json()["price"])


def _url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def _epoch_ms(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("naive datetime; pass an aware UTC time")
    return (at - _EPOCH) // timedelta(milliseconds=1)

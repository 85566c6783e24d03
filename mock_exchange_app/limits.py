"""Each simulated venue's rate limit, as the venue documents it, over every caller at once (the
simulator sees one address):

- Binance: request weight, 6000 a clock minute (exchangeInfo's REQUEST_WEIGHT); every answer
  says what was used in X-MBX-USED-WEIGHT-1M. Past the limit, HTTP 429 (code -1003) with
  Retry-After up to the minute's end; a call before that wait is over gets the address banned:
  HTTP 418 with Retry-After, 2 minutes the first time, twice as long at each ban after, up to
  3 days.
- Coinbase Exchange: 10 requests a second, bursts of 15 (a bucket of 15 that fills by 10 a
  second); past it, HTTP 429 {"message": "Public rate limit exceeded"}.
- Kraken: a call counter that each call raises by one and that falls by one a second, at most
  15; past it, {"error": ["EAPI:Rate limit exceeded"]}.
- OKX: 20 requests per 2 s (moving); past it, HTTP 429 {"msg": "Too Many Requests", "code":
  "50011"}.
- Bybit: 600 requests per 5 s (moving); past it, HTTP 403 "access too frequent", and every
  call after it too for 10 minutes, the ban Bybit documents.
- Bitstamp: 400 requests a second and 10,000 per 10 minutes (moving); past either, its error
  {"status": "error", "reason": ..., "code": "400.002"}.

GET /sim/limits says how many calls each venue refused: {"limit": 6000, "refused": 3, ...}.
SIM_LIMITS=false lifts them, for a benchmark of PriceHub's own capacity only.
With fault control, PUT /sim/limits {"limit": 20} sets another limit (tests reach it without
thousands of calls) and DELETE /sim/limits puts the documented one back, with nothing counted.
"""

from __future__ import annotations

import bisect
import json
import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mock_exchange_app.faults import Reply
from mock_exchange_app.replies import Response

Headers = tuple[tuple[str, str], ...]
Query = dict[str, list[str]]

# Binance's weight a minute; Coinbase's and Kraken's bursts; the others' calls in a window.
LIMITS = {"binance": 6000, "coinbase": 15, "kraken": 15, "okx": 20, "bybit": 600, "bitstamp": 10000}
_BINANCE_BAN_SECONDS = (120, 3 * 24 * 3600)  # the first ban, the longest
# The venues that count calls in moving windows: the seconds of the window the limit is set
# for, then any other (amount, seconds) they keep as well.
_WINDOWS: dict[str, tuple[int, tuple[tuple[int, int], ...]]] = {
    "okx": (2, ()),
    "bybit": (5, ()),
    "bitstamp": (600, ((400, 1),)),
}
_BYBIT_BAN_SECONDS = 600
_WINDOW_REFUSALS: dict[str, Reply | Response] = {
    "okx": (429, {"msg": "Too Many Requests", "code": "50011"}),
    "bybit": Response(403, b"access too frequent", "text/plain"),
    "bitstamp": (
        400,
        {
            "status": "error",
            "reason": "Request rejected due to exceeded rate limit.",
            "code": "400.002",
        },
    ),
}


@dataclass
class Admission:
    """What the venue's limit makes of one call: its refusal, if any, and headers to send."""

    refusal: Reply | Response | None = None
    headers: Headers = ()


@dataclass
class Limiter:
    """One venue's limit and what it refused, safe to share between the server's threads."""

    venue: str
    enforced: bool = True  # False: every call passes, counted all the same
    limit: int = 0
    refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Binance: the minute counted, its weight, the end of its 429's wait, the ban and how many.
    _minute: int = -1
    _used: int = 0
    _warned_until: float = 0.0
    _banned_until: float = 0.0
    _bans: int = 0
    # Coinbase's bucket and Kraken's counter: its level, and when it was last brought up to date.
    _level: float = 0.0
    _at: float = 0.0
    # OKX's, Bybit's and Bitstamp's windows: the times of the calls they still count.
    _calls: list[float] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self, limit: int | None = None) -> None:
        with self._lock:
            self.limit = LIMITS[self.venue] if limit is None else limit
            self.refused, self._minute, self._used = 0, -1, 0
            self._warned_until = self._banned_until = 0.0
            self._bans = 0
            self._level = float(self.limit) if self.venue == "coinbase" else 0.0
            self._at = 0.0
            self._calls = []

    def admit(self, path: str, query: Query, now: float) -> Admission:
        """Count one call at now (epoch seconds); return what the venue answers to it."""
        with self._lock:
            if not self.enforced:
                weighed = self._weigh(path, query, now) if self.venue == "binance" else ()
                return Admission(headers=weighed)
            count = self._windowed if self.venue in _WINDOWS else getattr(self, f"_{self.venue}")
            admission = count(path, query, now)
            if admission.refusal is not None:
                self.refused += 1
            return admission

    def state(self, now: float) -> dict[str, Any]:
        with self._lock:
            banned = self._banned_until > now
            return {
                "venue": self.venue,
                "limit": self.limit,
                "refused": self.refused,
                "banned_until": _iso(self._banned_until) if banned else None,
            }

    def _weigh(self, path: str, query: Query, now: float) -> Headers:
        """Count the call's weight in its clock minute; return the header that says the sum."""
        minute = int(now // 60)
        if minute != self._minute:
            self._minute, self._used = minute, 0
        self._used += binance_weight(path, query)
        return (("X-MBX-USED-WEIGHT-1M", str(self._used)),)

    def _binance(self, path: str, query: Query, now: float) -> Admission:
        if self._banned_until > now:
            return self._binance_ban(now, again=False)
        if self._warned_until > now:
            # Told to wait and did not: the address is banned.
            return self._binance_ban(now, again=True)
        headers = self._weigh(path, query, now)
        if self._used <= self.limit:
            return Admission(headers=headers)
        wait = math.ceil((self._minute + 1) * 60 - now)
        self._warned_until = now + wait
        message = (
            f"Too much request weight used; current limit is {self.limit} request weight per "
            "1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
        )
        refusal = (429, {"code": -1003, "msg": message})
        return Admission(refusal, (*headers, ("Retry-After", str(wait))))

    def _binance_ban(self, now: float, *, again: bool) -> Admission:
        if again:
            first, longest = _BINANCE_BAN_SECONDS
            self._banned_until = now + min(first * 2**self._bans, longest)
            self._bans += 1
            self._warned_until = 0.0
        until_ms = int(self._banned_until * 1000)
        message = (
            f"Way too much request weight used; IP banned until {until_ms}. Please use "
            "WebSocket Streams for live updates to avoid bans."
        )
        wait = math.ceil(self._banned_until - now)
        headers = (("X-MBX-USED-WEIGHT-1M", str(self._used)), ("Retry-After", str(wait)))
        return Admission((418, {"code": -1003, "msg": message}), headers)

    def _coinbase(self, _path: str, _query: Query, now: float) -> Admission:
        # A bucket of `limit` requests that fills by 10 a second.
        self._level = min(float(self.limit), self._level + (now - self._at) * 10)
        self._at = now
        if self._level < 1 - 1e-6:  # a float's rounding is no refusal
            return Admission((429, {"message": "Public rate limit exceeded"}))
        self._level -= 1
        return Admission()

    def _kraken(self, _path: str, _query: Query, now: float) -> Admission:
        # A counter that falls by one a second and may not pass `limit`.
        self._level = max(0.0, self._level - (now - self._at))
        self._at = now
        if self._level + 1 > self.limit + 1e-6:
            return Admission((200, {"error": ["EAPI:Rate limit exceeded"]}))
        self._level += 1
        return Admission()

    def _windowed(self, _path: str, _query: Query, now: float) -> Admission:
        # Every window counts the calls it admitted; one full window refuses the call.
        if self._banned_until > now:
            return Admission(_WINDOW_REFUSALS[self.venue])
        seconds, others = _WINDOWS[self.venue]
        windows = ((self.limit, seconds), *others)
        del self._calls[: bisect.bisect_right(self._calls, now - max(s for _, s in windows))]
        for amount, span in windows:
            counted = len(self._calls) - bisect.bisect_right(self._calls, now - span)
            if counted >= amount:
                if self.venue == "bybit":
                    self._banned_until = now + _BYBIT_BAN_SECONDS
                return Admission(_WINDOW_REFUSALS[self.venue])
        self._calls.append(now)
        return Admission()


def binance_weight(path: str, query: Query) -> int:
    """Return the weight Binance gives a call: 20 for exchangeInfo; for the 24 h ticker 2 for
    one symbol or 1 to 20, 40 for 21 to 100, 80 for more or all; the book ticker 2, or 4."""
    if path == "/api/v3/exchangeInfo":
        return 20
    if path == "/api/v3/ticker/bookTicker":
        return 2 if "symbol" in query else 4
    if path != "/api/v3/ticker/24hr" or "symbol" in query:
        return 2
    try:
        count = len(json.loads(query["symbols"][0]))
    except (KeyError, ValueError, TypeError):
        return 80 if "symbols" not in query else 2
    return 2 if count <= 20 else 40 if count <= 100 else 80


def control(limiter: Limiter, method: str, body: bytes, now: float) -> Reply:
    """GET, PUT or DELETE /sim/limits."""
    if method == "PUT":
        try:
            limit = json.loads(body or b"{}")["limit"]
        except (ValueError, KeyError, TypeError):
            limit = None
        if type(limit) is not int or limit < 1:
            return 400, {"error": 'expected {"limit": a whole number of at least 1}'}
        limiter.reset(limit)
    elif method == "DELETE":
        limiter.reset()
    elif method != "GET":
        return 405, {"error": "method not allowed"}
    return 200, limiter.state(now)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")

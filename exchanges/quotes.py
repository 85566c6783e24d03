"""What a venue says about one asset, in PriceHub's own terms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


class ExchangeError(Exception):
    """A venue gave no usable quote: down, slow, an error body or a malformed one.

    reason is a short code for the API's sources: "timeout", "unreachable", "venue_error"
    (the venue answered an error), "bad_response" (what it answered is not a ticker) or
    "rate_limited" (RateLimited).
    """

    def __init__(self, message: str, reason: str = "bad_response") -> None:
        super().__init__(message)
        self.reason = reason


class UnknownPair(ExchangeError):
    """The venue answered that it lists no such pair: a venue_error, yet no sign of an outage."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="venue_error")


class RateLimited(ExchangeError):
    """No answer for the venue's rate limit: it refused the call and asked PriceHub to wait
    `wait` seconds (HTTP 429 or 418, or its own words), or PriceHub held the call back to keep
    within it (wait is None). Never a sign of an outage."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message, reason="rate_limited")
        self.wait = wait


class RoundOver(ExchangeError):
    """The refresh round's deadline, shorter than the venue's own timeout, cut the call."""


class NothingUsable(ExchangeError):
    """A bulk answer without one usable ticker: a venue failure, each symbol with its error."""

    def __init__(self, results: dict[str, Quote | ExchangeError]) -> None:
        first = next(iter(results.values()))
        super().__init__(str(first), first.reason)
        self.results = results


@dataclass(frozen=True, slots=True)
class Pair:
    symbol: str  # what its answer is known by, e.g. BTCUSDT
    base: str  # common codes
    quote: str
    market: str | None = None  # the venue's name for it, from its catalogue (exchanges.Market)


@dataclass(frozen=True, slots=True)
class Listing:
    """A market in a venue's catalogue: its name there, its assets in common codes."""

    symbol: str  # the venue's name, e.g. BTCUSDT, BTC-USD, XXBTZUSD
    base: str  # common codes, e.g. BTC
    quote: str
    trading: bool  # False when halted, cancel-only, disabled or otherwise not trading
    status: str  # the venue's own word, e.g. TRADING, BREAK, online


@dataclass(frozen=True, slots=True)
class Quote:
    exchange: str
    symbol: str  # PriceHub's symbol, e.g. BTCUSDT, whatever the venue calls it
    price: Decimal  # last trade
    bid: Decimal | None
    ask: Decimal | None
    volume: Decimal  # 24 h volume in the base asset
    timestamp: datetime | None  # the venue's own time (UTC); None when its ticker has none
    received_at: datetime  # UTC
    # Set when the venue's answer failed and its last good quote stands in for it.
    kept_for: ExchangeError | None = None

"""OHLC candles, folded point by point, and the time arguments of history requests. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from aggregation.price import epoch_ms, from_epoch_ms

INTERVALS = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}


@dataclass(frozen=True, slots=True)
class Candle:
    start: datetime  # UTC, a multiple of the interval since the Unix epoch
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    points: int


def start_of(moment: datetime, interval: timedelta) -> datetime:
    """Return the start of the interval-long candle that moment falls in."""
    width = interval // timedelta(milliseconds=1)
    return from_epoch_ms(epoch_ms(moment) // width * width)


def fold(candle: Candle | None, moment: datetime, price: Decimal, interval: timedelta) -> Candle:
    """Return candle with the point (moment, price) added, or a new candle when the point
    falls in another interval; points come oldest first."""
    start = start_of(moment, interval)
    if candle is None or candle.start != start:
        return Candle(start, price, price, price, price, 1)
    high, low = max(candle.high, price), min(candle.low, price)
    return Candle(start, candle.open, high, low, price, candle.points + 1)


def to_text(candles: dict[str, Candle]) -> str:
    """Return candles by interval as JSON text (see entry): how a stored point and its memo
    keep the candles it was folded into."""
    return json.dumps({name: entry(candle) for name, candle in candles.items()})


def from_text(text: str | bytes) -> dict[str, Candle]:
    """Return the candles by interval that to_text wrote."""
    return {name: from_entry(value) for name, value in json.loads(text).items()}


def entry(candle: Candle) -> str:
    """Return candle as "<start in epoch ms> [open, high, low, close, points]": its start
    first, so a list of them is searched by time without decoding the rest."""
    ohlc = [str(candle.open), str(candle.high), str(candle.low), str(candle.close)]
    return f"{epoch_ms(candle.start)} {json.dumps([*ohlc, candle.points])}"


def from_entry(value: str | bytes) -> Candle:
    """Return the candle that entry wrote."""
    at, _, body = value.partition(b" " if isinstance(value, bytes) else " ")
    *ohlc, points = json.loads(body)
    return Candle(from_epoch_ms(int(at)), *(Decimal(price) for price in ohlc), points)


def parse_time(value: str) -> datetime:
    """Return the UTC time value names: epoch milliseconds, or ISO 8601 (UTC unless it says).

    Raise ValueError, in PriceHub's words, for anything else or a time outside years 1-9999.
    """
    try:
        if value.isascii() and value.isdigit():
            return from_epoch_ms(value)
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise ValueError(
            f"{shown!r} is not an ISO 8601 time or epoch milliseconds within years 1 to 9999"
        ) from None

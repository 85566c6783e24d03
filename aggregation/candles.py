"""OHLC candles from stored price points, and the time arguments of history requests. Pure."""

from __future__ import annotations

from collections.abc import Iterable
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


def candles(points: Iterable[tuple[datetime, Decimal]], interval: timedelta) -> list[Candle]:
    """Return one candle per interval that has points, oldest first; points oldest first."""
    result: list[Candle] = []
    width = interval // timedelta(milliseconds=1)
    for moment, price in points:
        start = from_epoch_ms(epoch_ms(moment) // width * width)
        last = result[-1] if result else None
        if last is None or last.start != start:
            result.append(Candle(start, price, price, price, price, 1))
            continue
        result[-1] = Candle(
            start, last.open, max(last.high, price), min(last.low, price), price, last.points + 1
        )
    return result


def parse_time(value: str) -> datetime:
    """Return the UTC time value names: epoch milliseconds, or ISO 8601 (UTC unless it says)."""
    if value.isdigit():
        return from_epoch_ms(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is neither epoch milliseconds nor an ISO 8601 time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

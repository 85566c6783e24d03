from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from aggregation.candles import Candle, candles, parse_time

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def at(seconds: float, price: str) -> tuple[datetime, Decimal]:
    return T0 + timedelta(seconds=seconds), Decimal(price)


def test_it_makes_one_candle_per_interval_with_open_high_low_close():
    points = [at(0, "10"), at(10, "12"), at(20, "9"), at(59.999, "11"), at(60, "11.5")]
    assert candles(points, MINUTE) == [
        Candle(T0, Decimal("10"), Decimal("12"), Decimal("9"), Decimal("11"), 4),
        Candle(T0 + MINUTE, Decimal("11.5"), Decimal("11.5"), Decimal("11.5"), Decimal("11.5"), 1),
    ]


def test_it_aligns_candles_to_the_interval_since_the_epoch():
    (candle,) = candles([at(7 * 60 + 5, "1")], timedelta(minutes=5))
    assert candle.start == T0 + timedelta(minutes=5)


def test_it_skips_intervals_without_points():
    result = candles([at(0, "1"), at(180, "2")], MINUTE)
    assert [candle.start for candle in result] == [T0, T0 + 3 * MINUTE]


def test_it_makes_no_candle_of_no_points():
    assert candles([], MINUTE) == []


def test_it_reads_epoch_milliseconds():
    assert parse_time("1795608000250") == datetime(2026, 11, 25, 12, 0, 0, 250000, tzinfo=UTC)


def test_it_reads_iso_8601_with_an_offset_as_utc():
    assert parse_time("2026-11-25T13:00:00+01:00") == T0


def test_it_reads_iso_8601_without_an_offset_as_utc():
    assert parse_time("2026-11-25T12:00:00") == T0


def test_it_rejects_a_time_it_cannot_read():
    with pytest.raises(ValueError, match="neither epoch milliseconds nor an ISO 8601 time"):
        parse_time("yesterday")

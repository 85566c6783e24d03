from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from aggregation.candles import Candle, fold, parse_time, start_of

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def folded(*points: tuple[float, str], interval: timedelta = MINUTE) -> Candle | None:
    candle = None
    for seconds, price in points:
        candle = fold(candle, T0 + timedelta(seconds=seconds), Decimal(price), interval)
    return candle


def test_it_opens_a_candle_with_the_first_point():
    assert folded((10, "10")) == Candle(T0, Decimal(10), Decimal(10), Decimal(10), Decimal(10), 1)


def test_it_folds_points_into_open_high_low_close():
    candle = folded((0, "10"), (10, "12"), (20, "9"), (59.999, "11"))
    assert candle == Candle(T0, Decimal(10), Decimal(12), Decimal(9), Decimal(11), 4)


def test_it_starts_a_new_candle_in_the_next_interval():
    candle = folded((0, "10"), (30, "12"), (60, "11.5"))
    assert candle == Candle(
        T0 + MINUTE, Decimal("11.5"), Decimal("11.5"), Decimal("11.5"), Decimal("11.5"), 1
    )


def test_it_starts_a_new_candle_after_intervals_without_points():
    assert folded((0, "10"), (180, "12")).start == T0 + 3 * MINUTE


def test_it_aligns_candles_to_the_interval_since_the_epoch():
    assert folded((7 * 60 + 5, "1"), interval=timedelta(minutes=5)).start == T0 + 5 * MINUTE


def test_it_starts_daily_candles_at_midnight_utc():
    assert start_of(T0 + timedelta(hours=13), timedelta(days=1)) == datetime(
        2026, 11, 26, tzinfo=UTC
    )


def test_it_reads_epoch_milliseconds():
    assert parse_time("1795608000250") == datetime(2026, 11, 25, 12, 0, 0, 250000, tzinfo=UTC)


def test_it_reads_iso_8601_with_an_offset_as_utc():
    assert parse_time("2026-11-25T13:00:00+01:00") == T0


def test_it_reads_iso_8601_without_an_offset_as_utc():
    assert parse_time("2026-11-25T12:00:00") == T0


@pytest.mark.parametrize(
    "value",
    ["yesterday", "²", "9" * 30, "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"],
)
def test_it_rejects_a_time_it_cannot_read_in_its_own_words(value):
    with pytest.raises(ValueError, match="is not an ISO 8601 time or epoch milliseconds within"):
        parse_time(value)

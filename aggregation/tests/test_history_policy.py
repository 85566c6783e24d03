from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from aggregation.history.store import is_due
from aggregation.price import AggregatedPrice, HistoryPoint

LAST = AggregatedPrice(
    asset="BTCUSDT",
    price=Decimal("10000"),
    method="vwap",
    last_updated=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    aggregated_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    sources=(),
)


def later(seconds: float, price: str) -> AggregatedPrice:
    return replace(
        LAST, price=Decimal(price), aggregated_at=LAST.aggregated_at + timedelta(seconds=seconds)
    )


def due(price: AggregatedPrice, last: AggregatedPrice | None = LAST) -> bool:
    point = None if last is None else HistoryPoint.of(last)
    return is_due(point, price, deviation_percent=0.05, heartbeat_seconds=60)


def test_it_records_the_first_point():
    assert due(LAST, last=None)


def test_it_skips_a_move_within_the_deviation():
    assert not due(later(10, "10005"))


def test_it_records_a_move_beyond_the_deviation():
    assert due(later(10, "10005.01"))


def test_it_records_a_downward_move_beyond_the_deviation():
    assert due(later(10, "9994.99"))


def test_it_records_a_still_price_at_the_heartbeat():
    assert due(later(60, "10000"))


def test_it_skips_a_still_price_before_the_heartbeat():
    assert not due(later(59.9, "10000"))

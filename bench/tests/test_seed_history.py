from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from aggregation.history import reads, store
from aggregation.price import AggregatedPrice, Source
from bench import seed_history

pytestmark = pytest.mark.usefixtures("stores")

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def point(seconds: float, price: str) -> AggregatedPrice:
    moment = T0 + timedelta(seconds=seconds)
    source = Source("binance", "used", price=Decimal(price), volume=Decimal(1))
    return AggregatedPrice("BTCUSDT", Decimal(price), "vwap", moment, moment, (source,))


def test_it_gives_an_asset_hours_of_points_and_candles_before_its_first_point():
    store.record([point(0, "100.00")])
    store.record([point(30, "101.00")])

    said = seed_history.seed("BTCUSDT", count=200, every=30)
    # The next point recorded fills the recent lists again, from DynamoDB.
    store.record([point(90, "102.00")])

    assert said.startswith("200 points of BTCUSDT stored before 12:00:00 UTC")
    start, end = T0 - timedelta(days=1), T0 + timedelta(hours=1)
    page, more = reads.page("BTCUSDT", start, end, newest_first=True, limit=100)
    assert [p.time - T0 for p in page[:4]] == [timedelta(seconds=s) for s in (90, 30, 0, -30)]
    assert len(page) == 100
    assert more is not None
    assert all(abs(p.price / Decimal("101") - 1) < Decimal("0.05") for p in page)
    minutes = reads.candles_between("BTCUSDT", "1m", T0 - timedelta(minutes=100), end)
    # 100 minutes of two seeded points each, then the live minutes 12:00 and 12:01.
    assert [candle.points for candle in minutes] == [2] * 100 + [2, 1]
    assert minutes[0].start == T0 - timedelta(minutes=100)

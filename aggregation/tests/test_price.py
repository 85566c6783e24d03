from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from aggregation.price import AggregatedPrice, Source

PRICE = AggregatedPrice(
    asset="BTCUSDT",
    price=Decimal("67012.3456"),
    method="vwap",
    last_updated=datetime(2026, 11, 25, 12, 0, 0, 250000, tzinfo=UTC),
    aggregated_at=datetime(2026, 11, 25, 12, 0, 1, tzinfo=UTC),
    sources=(
        Source(
            "binance",
            "used",
            price=Decimal("67010.1"),
            bid=Decimal("67010"),
            ask=Decimal("67010.2"),
            volume=Decimal("1500.25"),
        ),
        Source("kraken", "excluded", reason="timeout", detail="timed out after 2 s"),
    ),
)


def test_it_lists_only_the_sources_used():
    assert [source.exchange for source in PRICE.used] == ["binance"]


def test_it_stores_times_as_epoch_milliseconds():
    record = PRICE.to_record()
    assert (record["timestamp"], record["updated_at"]) == (1795608001000, 1795608000250)


def test_it_leaves_absent_amounts_out_of_the_record():
    assert PRICE.to_record()["sources"][1] == {
        "exchange": "kraken",
        "status": "excluded",
        "reason": "timeout",
        "detail": "timed out after 2 s",
    }


def test_it_survives_a_round_trip_through_its_record():
    assert AggregatedPrice.from_record(PRICE.to_record()) == PRICE

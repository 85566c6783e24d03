"""Points and candles as DynamoDB items, both ways.

A point is its price's stored form (AggregatedPrice.to_record) and the candles it was folded
into (attribute "candles", see aggregation.candles.to_text). A finished candle is stored under
asset f"{symbol}#{interval}" and its start, with its open, high, low, close and points.
"""

from __future__ import annotations

from decimal import Decimal

from aggregation import candles
from aggregation.candles import INTERVALS, Candle, start_of
from aggregation.history.client import Item, deserialize, serialize
from aggregation.price import AggregatedPrice, HistoryPoint, epoch_ms, from_epoch_ms

_POINT_FIELDS = ("timestamp", "price", "method", "sources_used")
_OHLC = ("open", "high", "low", "close")


def point_item(price: AggregatedPrice, folded: dict[str, Candle]) -> Item:
    """Return the item of price, with the candles it was folded into by interval."""
    item = {key: serialize(value) for key, value in price.to_record().items()}
    return item | {"candles": {"S": candles.to_text(folded)}}


def point(item: Item) -> HistoryPoint:
    """Return what a history page shows of a point's item."""
    return HistoryPoint.from_record({key: deserialize(item[key]) for key in _POINT_FIELDS})


def price(item: Item) -> AggregatedPrice:
    """Return the price a point's item holds."""
    fields = {key: deserialize(value) for key, value in item.items() if key != "candles"}
    return AggregatedPrice.from_record(fields)


def candles_of(item: Item) -> dict[str, Candle]:
    """Return the candles a point's item was folded into, by interval."""
    # A point stored before points carried their candles has none (see store.rollup).
    return candles.from_text(item["candles"]["S"]) if "candles" in item else {}


def candle_item(symbol: str, interval_name: str, candle: Candle) -> Item:
    """Return the item of symbol's candle of that interval."""
    start = start_of(candle.start, INTERVALS[interval_name])
    item: Item = {
        "asset": {"S": candle_asset(symbol, interval_name)},
        "timestamp": {"N": str(epoch_ms(start))},
    }
    item |= {name: {"N": str(getattr(candle, name))} for name in _OHLC}
    return item | {"points": {"N": str(candle.points)}}


def candle(item: Item) -> Candle:
    """Return the candle of a candle's item."""
    return Candle(
        start=from_epoch_ms(item["timestamp"]["N"]),
        points=int(item["points"]["N"]),
        **{name: Decimal(item[name]["N"]) for name in _OHLC},
    )


def candle_asset(symbol: str, interval_name: str) -> str:
    """Return the partition key of symbol's candles of that interval."""
    return f"{symbol}#{interval_name}"

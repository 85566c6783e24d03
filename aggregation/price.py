"""An aggregated price and its sources, and the one record format Redis and DynamoDB share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Source:
    """What one venue contributed to a price: used, or excluded and why."""

    exchange: str
    status: str  # "used" or "excluded"
    reason: str | None = None  # why it was excluded
    price: Decimal | None = None
    volume: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AggregatedPrice:
    asset: str
    price: Decimal
    method: str
    last_updated: datetime  # venue time of the newest quote used, UTC
    aggregated_at: datetime  # UTC
    sources: tuple[Source, ...]

    @property
    def sources_used(self) -> int:
        return sum(source.status == "used" for source in self.sources)

    def to_record(self) -> dict[str, Any]:
        """Return the stored form: the DynamoDB item, also kept in Redis as is."""
        return {
            "asset": self.asset,
            "timestamp": _epoch_ms(self.aggregated_at),
            "price": self.price,
            "updated_at": _epoch_ms(self.last_updated),
            "method": self.method,
            "sources_used": self.sources_used,
            "sources": [
                {
                    "exchange": s.exchange,
                    "status": s.status,
                    "reason": s.reason,
                    "price": s.price,
                    "volume": s.volume,
                }
                for s in self.sources
            ],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> AggregatedPrice:
        """Rebuild a price from its stored form (DynamoDB gives every number as Decimal)."""
        return cls(
            asset=record["asset"],
            price=Decimal(record["price"]),
            method=record["method"],
            last_updated=_from_epoch_ms(record["updated_at"]),
            aggregated_at=_from_epoch_ms(record["timestamp"]),
            sources=tuple(
                Source(
                    exchange=s["exchange"],
                    status=s["status"],
                    reason=s.get("reason"),
                    price=_optional_decimal(s.get("price")),
                    volume=_optional_decimal(s.get("volume")),
                )
                for s in record["sources"]
            ),
        )


def whole_ms(moment: datetime) -> datetime:
    """Return moment cut to the millisecond, the precision PriceHub stores."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _from_epoch_ms(epoch_ms: Decimal | int) -> datetime:
    return _EPOCH + timedelta(milliseconds=int(epoch_ms))


def _optional_decimal(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value)

"""An aggregated price and its sources, and the one record format Redis and DynamoDB share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_AMOUNTS = ("price", "bid", "ask", "volume")


@dataclass(frozen=True, slots=True)
class Source:
    """What one venue's market contributed to a price: used, or excluded and why."""

    exchange: str
    status: str  # "used" or "excluded"
    reason: str | None = None  # a code, such as "timeout" or "outlier"
    detail: str | None = None  # the reason as a sentence
    price: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    volume: Decimal | None = None
    quoted_at: datetime | None = None  # when the venue quoted it (its clock, or first seen)
    market: str | None = None  # the venue's name for the market, from its catalogue
    quote: str | None = None  # the market's quote currency, from its catalogue
    rate: Decimal | None = None  # pricing currency per unit of quote; prices are converted
    rate_age: Decimal | None = None  # seconds since the rate was aggregated
    weight: Decimal | None = None  # a used source's share of the price's weight (trust.py)


@dataclass(frozen=True, slots=True)
class AggregatedPrice:
    asset: str
    price: Decimal
    method: str
    last_updated: datetime  # venue time of the newest quote used, UTC
    aggregated_at: datetime  # UTC
    sources: tuple[Source, ...]

    @property
    def used(self) -> list[Source]:
        return [source for source in self.sources if source.status == "used"]

    def to_record(self) -> dict[str, Any]:
        """Return the stored form: the DynamoDB item, also kept in Redis as is."""
        return {
            "asset": self.asset,
            "timestamp": epoch_ms(self.aggregated_at),
            "price": self.price,
            "updated_at": epoch_ms(self.last_updated),
            "method": self.method,
            "sources_used": len(self.used),
            "sources": [_source_record(source) for source in self.sources],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> AggregatedPrice:
        """Rebuild a price from its stored form (DynamoDB gives every number as Decimal)."""
        return cls(
            asset=record["asset"],
            price=Decimal(record["price"]),
            method=record["method"],
            last_updated=from_epoch_ms(record["updated_at"]),
            aggregated_at=from_epoch_ms(record["timestamp"]),
            sources=tuple(_source_from_record(source) for source in record["sources"]),
        )


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """A stored point as a history page shows it."""

    time: datetime  # when it was aggregated, UTC
    price: Decimal
    method: str
    sources_used: int

    @classmethod
    def of(cls, price: AggregatedPrice) -> HistoryPoint:
        """Return what a history page shows of price."""
        return cls(price.aggregated_at, price.price, price.method, len(price.used))

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> HistoryPoint:
        """Read the few fields a page shows from a point's stored form."""
        return cls(
            time=from_epoch_ms(record["timestamp"]),
            price=Decimal(record["price"]),
            method=record["method"],
            sources_used=int(record["sources_used"]),
        )


def whole_ms(moment: datetime) -> datetime:
    """Return moment cut to the millisecond, the precision PriceHub stores."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _source_record(source: Source) -> dict[str, Any]:
    # Absent amounts are left out: DynamoDB stores no empty attributes.
    record: dict[str, Any] = {"exchange": source.exchange, "status": source.status}
    for name in ("market", "quote", "reason", "detail", *_AMOUNTS, "rate", "rate_age", "weight"):
        if (value := getattr(source, name)) is not None:
            record[name] = value
    if source.quoted_at is not None:
        record["quoted_at"] = epoch_ms(source.quoted_at)
    return record


def _source_from_record(record: dict[str, Any]) -> Source:
    amounts = {name: Decimal(record[name]) for name in _AMOUNTS if record.get(name) is not None}
    quoted_at = record.get("quoted_at")
    return Source(
        exchange=record["exchange"],
        status=record["status"],
        reason=record.get("reason"),
        detail=record.get("detail"),
        **amounts,
        quoted_at=None if quoted_at is None else from_epoch_ms(quoted_at),
        market=record.get("market"),
        quote=record.get("quote"),
        rate=None if record.get("rate") is None else Decimal(record["rate"]),
        rate_age=None if record.get("rate_age") is None else Decimal(record["rate_age"]),
        weight=None if record.get("weight") is None else Decimal(record["weight"]),
    )


def epoch_ms(moment: datetime) -> int:
    """Return moment in whole milliseconds since the Unix epoch."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def from_epoch_ms(milliseconds: Decimal | int | str) -> datetime:
    """Return the UTC time of an epoch in milliseconds."""
    return _EPOCH + timedelta(milliseconds=int(milliseconds))


class RefreshError(Exception):
    """A refresh that published nothing. Each kind has a code, for the API and the logs, and
    says whether the same refresh may succeed if tried again soon."""

    code = "refresh_failed"
    retry = True


class UnknownAsset(RefreshError):
    """The asset does not exist or is disabled."""

    code = "not_found"
    retry = False


class RefreshInProgress(RefreshError):
    """Another process is refreshing this asset right now."""

    code = "refresh_in_progress"


class RoundNoQuorum(RefreshError):
    """The round of another process that this refresh waited for published no price, for too
    few venues: its NoQuorum, word for word, with each venue's part rendered (SourceOutput)."""

    code = "no_quorum"

    def __init__(self, detail: str, sources: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.sources = sources


class Unavailable(RefreshError):
    """A service PriceHub stores in (Redis, DynamoDB, its database) failed."""

    code = "unavailable"


@dataclass(frozen=True, slots=True)
class RefreshFailure:
    """A refresh that published no price, and each venue's part in it."""

    asset: str
    at: datetime
    detail: str
    sources: tuple[Source, ...]

    def to_record(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "at": epoch_ms(self.at),
            "detail": self.detail,
            "sources": [_source_record(source) for source in self.sources],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RefreshFailure:
        return cls(
            asset=record["asset"],
            at=from_epoch_ms(record["at"]),
            detail=record["detail"],
            sources=tuple(_source_from_record(source) for source in record["sources"]),
        )

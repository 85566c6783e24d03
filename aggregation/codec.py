"""Everything PriceHub keeps in Redis or announces on its channel, encoded and decoded here
alone (the keys are common.redis_store's). Every format is JSON:

- a published price: two JSON lines, a header {"asset", "aggregated_ms", "updated_ms",
  "method"} then the document the API serves (documents.render_price). The stream channel
  carries these very bytes. A read keeps the document as bytes and adds its own fields
  around them (documents.render_reading), so it never decodes or encodes the document again;
- a failed refresh: two JSON lines, {"asset", "at_ms"} then its `last_refresh_error` document;
- a price record, alone or a batch of them in a JSON array: AggregatedPrice.to_record, with
  its amounts as exact decimal text;
- the recent history's entries: a point [time ms, "price", "method", sources used], a candle
  [start ms, "open", "high", "low", "close", points], a list's end marker [BEGINNING_MS], and a
  memo {"point": <point>, "candles": {"1m": <candle>, ...}};
- a venue's unchanged quote: {"quote": [price, bid, ask, volume as text], "since": ms};
- the promoted symbols: a JSON array of them; what the due set was last synced to:
  [assets version, [promoted symbols, sorted], {tier: interval seconds}].

A decoder raises Undecodable for a value it cannot read, such as one kept by an older version.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import orjson

from aggregation.candles import Candle
from aggregation.documents import render_failure, render_price
from aggregation.price import (
    AggregatedPrice,
    HistoryPoint,
    RefreshFailure,
    epoch_ms,
    from_epoch_ms,
)

BEGINNING_MS = -(2**63)  # before any point: the time of a list's end marker
T = TypeVar("T")
# What reading a value of another form raises: decimal's errors are ArithmeticErrors.
_MISREAD = (ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError)


class Undecodable(ValueError):
    """A value this version cannot read."""


def _decoder(decode: Callable[[bytes], T]) -> Callable[[bytes], T]:
    # Whatever a value of another form makes a decoder raise, it raises Undecodable.
    @functools.wraps(decode)
    def checked(value: bytes) -> T:
        try:
            return decode(value)
        except Undecodable:
            raise
        except _MISREAD as exc:
            raise Undecodable(f"{decode.__name__} cannot read {value[:60]!r}: {exc}") from exc

    return checked


@dataclass(frozen=True, slots=True)
class PublishedPrice:
    """A published price as the reads use it: its times, its method and its document."""

    asset: str
    aggregated_ms: int
    updated_ms: int
    method: str
    document: bytes  # JSON, as documents.render_price rendered it


@dataclass(frozen=True, slots=True)
class PublishedFailure:
    """A failed refresh as the reads use it: its time and its document."""

    asset: str
    at_ms: int
    document: bytes  # JSON, as documents.render_failure rendered it

    def newer_than(self, aggregated_ms: int) -> bool:
        """Whether it came after the price aggregated then: only then does it say why the
        asset's refreshes fail."""
        return self.at_ms > aggregated_ms

    @property
    def detail(self) -> str:
        return orjson.loads(self.document)["detail"]

    @property
    def sources(self) -> list[dict[str, Any]]:
        """Each venue's part, rendered as the document has it (SourceOutput)."""
        return orjson.loads(self.document)["sources"]


def published(price: AggregatedPrice) -> PublishedPrice:
    """Return price as it is published, its document rendered."""
    aggregated, updated = epoch_ms(price.aggregated_at), epoch_ms(price.last_updated)
    return PublishedPrice(price.asset, aggregated, updated, price.method, render_price(price))


def encode_published(price: AggregatedPrice) -> bytes:
    """Return price as Redis keeps it and the stream channel announces it."""
    kept = published(price)
    header = [("asset", kept.asset), ("aggregated_ms", kept.aggregated_ms)]
    header += [("updated_ms", kept.updated_ms), ("method", kept.method)]
    return _lines(dict(header), kept.document)


@_decoder
def decode_published(value: bytes) -> PublishedPrice:
    """Return the price encode_published kept."""
    header, document = _split_lines(value)
    fields = header["asset"], header["aggregated_ms"], header["updated_ms"], header["method"]
    return PublishedPrice(*fields, document)


def encode_failure(failure: RefreshFailure) -> bytes:
    """Return a failed refresh as Redis keeps it."""
    header = {"asset": failure.asset, "at_ms": epoch_ms(failure.at)}
    return _lines(header, render_failure(failure))


@_decoder
def decode_failure(value: bytes) -> PublishedFailure:
    """Return the failure encode_failure kept."""
    header, document = _split_lines(value)
    return PublishedFailure(header["asset"], header["at_ms"], document)


def encode_record(price: AggregatedPrice) -> bytes:
    """Return price's record (AggregatedPrice.to_record) as JSON."""
    return _dumps(price.to_record())


@_decoder
def decode_record(value: bytes) -> AggregatedPrice:
    """Return the price encode_record wrote."""
    return AggregatedPrice.from_record(orjson.loads(value))


def encode_records(prices: Sequence[AggregatedPrice]) -> bytes:
    """Return the records of prices as one JSON array."""
    return _dumps([price.to_record() for price in prices])


@_decoder
def decode_records(value: bytes) -> list[AggregatedPrice]:
    """Return the prices encode_records wrote."""
    records = orjson.loads(value)
    if not isinstance(records, list):
        raise Undecodable(f"Not a list of records: {value[:40]!r}.")
    return [AggregatedPrice.from_record(record) for record in records]


def encode_point(point: HistoryPoint) -> bytes:
    """Return a point as a recent points list keeps it: what a history page shows."""
    return _dumps(_point_fields(point))


@_decoder
def point(entry: list[Any]) -> HistoryPoint:
    """Return the point of an entry decode_entries read from encode_point's bytes."""
    return _point(entry)


def encode_candle(candle: Candle) -> bytes:
    """Return a candle as a recent candles list keeps it."""
    return _dumps(_candle_fields(candle))


@_decoder
def candle(entry: list[Any]) -> Candle:
    """Return the candle of an entry decode_entries read from encode_candle's bytes."""
    return _candle(entry)


def encode_beginning() -> bytes:
    """Return the marker that ends a list holding all there is, timed before any entry."""
    return _dumps([BEGINNING_MS])


@_decoder
def decode_entries(values: Sequence[bytes]) -> list[tuple[int, list[Any]]]:
    """Return a recent list's entries, decoded in one go: each one's time (epoch ms: a
    point's, a candle's start, the end marker's) and its fields, which point() or candle()
    then read."""
    entries = orjson.loads(b"[" + b",".join(values) + b"]")
    if not all(type(entry) is list and type(entry[0]) is int for entry in entries):
        raise Undecodable("An entry without a time.")
    return [(entry[0], entry) for entry in entries]


def encode_memo(point: HistoryPoint, candles: dict[str, Candle]) -> bytes:
    """Return an asset's last stored point and the candles it was folded into, by interval."""
    folded = {name: _candle_fields(candle) for name, candle in candles.items()}
    return _dumps({"point": _point_fields(point), "candles": folded})


@_decoder
def decode_memo(value: bytes) -> tuple[HistoryPoint, dict[str, Candle]]:
    """Return the point and candles encode_memo wrote."""
    memo = orjson.loads(value)
    candles = {name: _candle(fields) for name, fields in memo["candles"].items()}
    return _point(memo["point"]), candles


def encode_unchanged(quote: Sequence[Decimal | None], since_ms: int) -> bytes:
    """Return a venue's quote (price, bid, ask, volume) and since when it stood still."""
    return _dumps({"quote": [None if n is None else str(n) for n in quote], "since": since_ms})


@_decoder
def decode_unchanged(value: bytes) -> tuple[tuple[Decimal | None, ...], int]:
    """Return the quote and time encode_unchanged wrote."""
    kept = orjson.loads(value)
    quote = tuple(None if n is None else Decimal(n) for n in kept["quote"])
    return quote, int(kept["since"])


def encode_symbols(symbols: Sequence[str]) -> bytes:
    """Return a list of symbols as JSON."""
    return _dumps(list(symbols))


@_decoder
def decode_symbols(value: bytes) -> list[str]:
    """Return the symbols encode_symbols wrote."""
    symbols = orjson.loads(value)
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise Undecodable(f"Not a list of symbols: {value[:40]!r}.")
    return symbols


def encode_synced(version: str, promoted: Iterable[str], tiers: dict[str, float]) -> bytes:
    """Return what the due set is synced to: the assets version, the promoted symbols and
    each tier's interval; equal states encode to equal bytes."""
    return _dumps([version, sorted(promoted), tiers])


@_decoder
def decode_synced(value: bytes) -> tuple[str, list[str], dict[str, float]]:
    """Return the state encode_synced wrote."""
    version, promoted, tiers = orjson.loads(value)
    if [type(version), type(promoted), type(tiers)] != [str, list, dict]:
        raise Undecodable(f"Not a schedule's state: {value[:40]!r}.")
    return version, promoted, tiers


def _point_fields(point: HistoryPoint) -> list[Any]:
    return [epoch_ms(point.time), str(point.price), point.method, point.sources_used]


def _point(fields: list[Any]) -> HistoryPoint:
    at, price, method, sources_used = fields
    return HistoryPoint(from_epoch_ms(at), Decimal(price), method, sources_used)


def _candle_fields(candle: Candle) -> list[Any]:
    ohlc = [str(candle.open), str(candle.high), str(candle.low), str(candle.close)]
    return [epoch_ms(candle.start), *ohlc, candle.points]


def _candle(fields: list[Any]) -> Candle:
    start, open_, high, low, close, points = fields
    prices = Decimal(open_), Decimal(high), Decimal(low), Decimal(close)
    return Candle(from_epoch_ms(start), *prices, points)


def _lines(header: dict[str, Any], document: bytes) -> bytes:
    # JSON never holds a raw line break, so the first one ends the header.
    return b"\n".join([_dumps(header), document])


def _split_lines(value: bytes) -> tuple[dict[str, Any], bytes]:
    header, newline, document = value.partition(b"\n")
    fields = orjson.loads(header)
    if not newline or not isinstance(fields, dict):
        raise Undecodable(f"Not a header and a document: {value[:40]!r}.")
    return fields, document


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_text)


def _text(value: object) -> str:
    # A record's amounts as their exact decimal text.
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not kept in Redis")

"""The price documents the API serves, rendered once when a refresh publishes them.

A published document holds everything about a price but the three fields that depend on
the moment of the read (`tier`, `stale`, `age_seconds`); a read adds those (render_reading).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
from rest_framework import serializers

from aggregation import methods
from aggregation.candles import Candle
from aggregation.price import AggregatedPrice, HistoryPoint, RefreshFailure, Source


class SourceOutput(serializers.Serializer):
    exchange = serializers.CharField()
    market = serializers.CharField(
        allow_null=True,
        required=False,
        help_text="The venue's name for the market (BTCUSDT, BTC-USD, XXBTZUSD), from its "
        "catalogue; null when its catalogue is not known and the usual name was asked.",
    )
    quote = serializers.CharField(
        allow_null=True,
        required=False,
        help_text="The market's quote currency; its prices are converted into the asset's.",
    )
    rate = serializers.DecimalField(
        None,
        None,
        coerce_to_string=False,
        allow_null=True,
        required=False,
        help_text="The rate that converted the market's prices: the asset's currency per unit "
        "of the market's quote, from PriceHub's own prices of them in USD; null when none was "
        "needed.",
    )
    rate_age_seconds = serializers.FloatField(
        allow_null=True, required=False, help_text="How old that rate was when used."
    )
    price = serializers.DecimalField(None, None, coerce_to_string=False, allow_null=True)
    bid = serializers.DecimalField(None, None, coerce_to_string=False, allow_null=True)
    ask = serializers.DecimalField(None, None, coerce_to_string=False, allow_null=True)
    volume = serializers.DecimalField(None, None, coerce_to_string=False, allow_null=True)
    weight = serializers.DecimalField(
        None,
        None,
        coerce_to_string=False,
        allow_null=True,
        required=False,
        help_text="A used source's share of the price's weight, from 0 to 1 (the used sources' "
        "sum to 1): its volume times its trust, which a kept quote's age and a distance from "
        "the median lower. vwap and volume_weighted_median weigh by it; null when excluded.",
    )
    status = serializers.CharField(help_text="used or excluded")
    reason = serializers.CharField(allow_null=True, help_text="why excluded, as a code")
    detail = serializers.CharField(
        allow_null=True,
        help_text="why excluded, why the venue's last good quote was kept, or why a used "
        "source weighs less than its volume, as a sentence",
    )
    quoted_at = serializers.DateTimeField(
        allow_null=True,
        required=False,
        help_text="When the venue quoted it: its own clock, or when PriceHub first saw it (UTC).",
    )


class RefreshErrorOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    detail = serializers.CharField()
    sources = SourceOutput(many=True)


class PublishedPriceOutput(serializers.Serializer):
    asset = serializers.CharField()
    price = serializers.DecimalField(None, None, coerce_to_string=False)
    last_updated = serializers.DateTimeField(help_text="Venue time of the newest quote used (UTC).")
    aggregated_at = serializers.DateTimeField()
    method = serializers.CharField()
    sources_used = serializers.IntegerField()
    sources_total = serializers.IntegerField()
    confidence = serializers.DecimalField(
        None, None, coerce_to_string=False, help_text="Half-width of the used venues' range."
    )
    best_bid = serializers.DecimalField(None, None, coerce_to_string=False, allow_null=True)
    best_ask = serializers.DecimalField(None, None, coerce_to_string=False, allow_null=True)
    volume = serializers.DecimalField(
        None, None, coerce_to_string=False, help_text="24 h base volume of the used venues."
    )
    sources = SourceOutput(many=True)


class PriceOutput(PublishedPriceOutput):
    """The document of GET /prices/{asset}: the published one and the read's own fields."""

    tier = serializers.CharField(help_text="hot, medium or cold: how often it is refreshed.")
    stale = serializers.BooleanField()
    age_seconds = serializers.FloatField(help_text="Seconds since last_updated.")
    last_refresh_error = RefreshErrorOutput(
        required=False, help_text="Why refreshes fail, while the price shown is stale."
    )


def render_price(price: AggregatedPrice) -> bytes:
    """Return price's published document as JSON, as PublishedPriceOutput describes it."""
    used = price.used
    return _encode(
        {
            "asset": price.asset,
            "price": float(price.price),
            "last_updated": price.last_updated,
            "aggregated_at": price.aggregated_at,
            "method": price.method,
            "sources_used": len(used),
            "sources_total": len(price.sources),
            "confidence": float(methods.confidence(used)),
            "best_bid": _number(_quoted(methods.best_bid, used)),
            "best_ask": _number(_quoted(methods.best_ask, used)),
            "volume": float(sum((source.volume or 0 for source in used), Decimal(0))),
            "sources": render_sources(price.sources),
        }
    )


def render_failure(failure: RefreshFailure) -> bytes:
    """Return a failed refresh as the `last_refresh_error` document, in JSON."""
    sources = render_sources(failure.sources)
    return _encode({"at": failure.at, "detail": failure.detail, "sources": sources})


def render_reading(
    document: bytes, *, tier: str, stale: bool, age_seconds: float, failure: bytes | None
) -> bytes:
    """Return the document GET /prices/{asset} answers (PriceOutput): a published document
    (render_price) with the fields of the read's moment and, while the price's refreshes fail,
    the last failure's document (render_failure) as `last_refresh_error`. The documents are
    spliced in as the bytes they are: a read never decodes them again."""
    # The rest of the moment is cached, and the document's members are joined in without a
    # copy of their own.
    moment = _moment(tier, stale) + _encode(age_seconds)
    tail = b"}" if failure is None else b"," + _LAST_REFRESH_ERROR + failure + b"}"
    return b"".join((b"{", moment, b",", memoryview(document)[1:-1], tail))


def render_batch(readings: list[bytes], errors: list[dict[str, str]]) -> bytes:
    """Return the document GET /prices?assets= answers (BatchOutput): the readings' documents
    (render_reading) as they are, then why each other asset could not be served."""
    members = [_PRICES + b"[" + b",".join(readings) + b"]", _ERRORS + _encode(errors)]
    return b"{" + b",".join(members) + b"}"


@functools.cache
def _moment(tier: str, stale: bool) -> bytes:
    # The members of a read's moment up to its age's value: its reads are the hottest code.
    return _encode({"tier": tier, "stale": stale})[1:-1] + b"," + _member("age_seconds")


def render_sources(sources: tuple[Source, ...]) -> list[dict[str, Any]]:
    """Return each venue's part in a price or a failure, as SourceOutput describes it."""
    # Rendered by hand, not by the serializers: a refresh renders every asset of its batch,
    # and DRF's fields cost a fifth of a busy worker's time.
    return [
        {
            "exchange": source.exchange,
            "market": source.market,
            "quote": source.quote,
            "rate": _number(source.rate),
            "rate_age_seconds": None if source.rate_age is None else float(source.rate_age),
            "price": _number(source.price),
            "bid": _number(source.bid),
            "ask": _number(source.ask),
            "volume": _number(source.volume),
            "weight": _number(source.weight),
            "status": source.status,
            "reason": source.reason,
            "detail": source.detail,
            "quoted_at": source.quoted_at,
        }
        for source in sources
    ]


def _quoted(best: Callable[[list[Source]], Decimal], used: list[Source]) -> Decimal | None:
    try:
        return best(used)
    except ValueError:  # no used venue quotes that side of the book
        return None


def render_history(
    symbol: str, order: str, points: list[HistoryPoint], next_cursor: str | None
) -> bytes:
    """Return a page of history as JSON, as HistoryOutput describes it."""
    rows = [
        {
            "time": point.time,
            "price": float(point.price),
            "method": point.method,
            "sources_used": point.sources_used,
        }
        for point in points
    ]
    return _encode({"asset": symbol, "order": order, "points": rows, "next_cursor": next_cursor})


def render_candles(symbol: str, interval: str, candles: list[Candle]) -> bytes:
    """Return candles as JSON, as CandlesOutput describes them."""
    rows = [
        {
            "start": candle.start,
            "open": float(candle.open),
            "high": float(candle.high),
            "low": float(candle.low),
            "close": float(candle.close),
            "points": candle.points,
        }
        for candle in candles
    ]
    return _encode({"asset": symbol, "interval": interval, "candles": rows})


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _encode(value: Any) -> bytes:
    # Numbers as DRF renders a DecimalField without string coercion: JSON floats; times as it
    # renders a UTC time, ISO 8601 ending in Z.
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)


def _member(name: str) -> bytes:
    # A member's name and its colon, as the encoder writes them, for a document spliced of
    # documents already encoded.
    return _encode(name) + b":"


_LAST_REFRESH_ERROR, _PRICES, _ERRORS = map(_member, ("last_refresh_error", "prices", "errors"))

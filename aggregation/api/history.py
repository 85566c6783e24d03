"""Price history from DynamoDB: the points in a time range, and OHLC candles."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.http import HttpResponse, QueryDict
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers

from aggregation.api import paging
from aggregation.api.reads import JSON, ReadView
from aggregation.candles import INTERVALS, parse_time
from aggregation.documents import render_candles, render_history
from aggregation.history import reads
from aggregation.price import epoch_ms
from aggregation.selectors import asset_known
from common.errors import ApiError, errors

MAX_CANDLES = 1000

_RANGE = [
    OpenApiParameter("start", str, description="ISO 8601 (UTC unless it says) or epoch ms"),
    OpenApiParameter("end", str, description="ISO 8601 (UTC unless it says) or epoch ms; now"),
]


class PointOutput(serializers.Serializer):
    time = serializers.DateTimeField()
    price = serializers.DecimalField(None, None, coerce_to_string=False)
    method = serializers.CharField()
    sources_used = serializers.IntegerField()


class HistoryOutput(serializers.Serializer):
    asset = serializers.CharField()
    order = serializers.ChoiceField(["desc", "asc"])
    points = PointOutput(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as cursor for more.")


class CandleOutput(serializers.Serializer):
    start = serializers.DateTimeField()
    open = serializers.DecimalField(None, None, coerce_to_string=False)
    high = serializers.DecimalField(None, None, coerce_to_string=False)
    low = serializers.DecimalField(None, None, coerce_to_string=False)
    close = serializers.DecimalField(None, None, coerce_to_string=False)
    points = serializers.IntegerField()


class CandlesOutput(serializers.Serializer):
    asset = serializers.CharField()
    interval = serializers.ChoiceField(list(INTERVALS))
    candles = CandleOutput(many=True)


@extend_schema_view(
    get=extend_schema(
        parameters=[
            *_RANGE,
            OpenApiParameter("order", str, enum=["desc", "asc"], description="desc: newest first"),
            *paging.PARAMETERS,
        ],
        responses={200: HistoryOutput, **errors(400, 404, 429, 503)},
        summary="Stored price points of one asset in a time range",
    )
)
class HistoryView(ReadView):
    def read(self, query: QueryDict, asset: str) -> HttpResponse:
        return HttpResponse(history_body(asset, query), content_type=JSON)


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("interval", str, required=True, enum=list(INTERVALS)),
            *_RANGE,
        ],
        responses={200: CandlesOutput, **errors(400, 404, 429, 503)},
        summary="OHLC candles of one asset from its stored points",
    )
)
class CandlesView(ReadView):
    def read(self, query: QueryDict, asset: str) -> HttpResponse:
        return HttpResponse(candles_body(asset, query), content_type=JSON)


def history_body(asset: str, params: Mapping[str, str]) -> bytes:
    """Return the history page params ask for, as JSON; raise ApiError."""
    known = asset_known(asset)
    start, end = _range(params, default_span=timedelta(hours=1))
    order = params.get("order") or "desc"
    if order not in ("desc", "asc"):
        raise ApiError(400, "invalid_order", "order is desc (newest first) or asc.")
    points, last = reads.page(
        known.symbol,
        start,
        end,
        newest_first=order == "desc",
        limit=paging.page_limit(params.get("limit") or None),
        after_ms=_cursor_ms(params.get("cursor") or None, start, end),
    )
    cursor = None if last is None else paging.next_cursor(last)
    return render_history(known.symbol, order, points, cursor)


def candles_body(asset: str, params: Mapping[str, str]) -> bytes:
    """Return the candles params ask for, as JSON; raise ApiError."""
    known = asset_known(asset)
    name = params.get("interval", "")
    if name not in INTERVALS:
        raise ApiError(400, "invalid_interval", f"interval is one of: {', '.join(INTERVALS)}.")
    interval = INTERVALS[name]
    start, end = _range(params, default_span=interval * 100)
    if (end - start) / interval > MAX_CANDLES:
        raise ApiError(
            400, "range_too_large", f"Ask for at most {MAX_CANDLES} {name} candles at once."
        )
    return render_candles(known.symbol, name, reads.candles_between(known.symbol, name, start, end))


def _range(params: Any, *, default_span: timedelta) -> tuple[datetime, datetime]:
    # An empty parameter, as in ?start=, is an absent one: its default holds.
    try:
        end = parse_time(params["end"]) if params.get("end") else datetime.now(UTC)
        start = parse_time(params["start"]) if params.get("start") else end - default_span
    except ValueError as exc:
        raise ApiError(400, "invalid_range", f"{exc}.") from exc
    except OverflowError as exc:  # a default start before year 1
        raise ApiError(400, "invalid_range", "The range must fall within years 1 to 9999.") from exc
    if start > end:
        raise ApiError(400, "invalid_range", "start is after end.")
    return start, end


def _cursor_ms(raw: str | None, start: datetime, end: datetime) -> int | None:
    # A cursor from another range would start the page outside it.
    lower, upper = epoch_ms(start), epoch_ms(end)
    return paging.cursor_after(
        raw,
        valid=lambda after: type(after) is int and lower <= after <= upper,
        detail="cursor is not a next_cursor of this range.",
    )

"""The REST API: thin views over the refresh service and the price selector."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import Http404, HttpRequest, JsonResponse
from redis.exceptions import RedisError
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from aggregation import methods, price_cache
from aggregation.aggregate import NoQuorum, combine
from aggregation.methods import METHODS
from aggregation.models import SYMBOL_PATTERN, Asset
from aggregation.price import AggregatedPrice, RefreshFailure, Source
from aggregation.selectors import asset_tier, price_latest
from aggregation.services import price_refresh

logger = logging.getLogger(__name__)

_SYMBOL_RE = re.compile(SYMBOL_PATTERN)
_BACKEND_ERRORS = (RedisError, BotoCoreError, ClientError, DatabaseError)
# How long POST /refresh waits for a refresh of the same asset that is already running.
REFRESH_WAIT_SECONDS = 10


class ApiError(exceptions.APIException):
    """An error answered with PriceHub's body: {"error": code, "detail": sentence, ...extra}."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        self.status_code = status
        self.extra = extra
        super().__init__(detail, code)


class SourceOutput(serializers.Serializer):
    exchange = serializers.CharField()
    price = serializers.DecimalField(None, None, coerce_to_string=False, allow_null=True)
    bid = serializers.DecimalField(None, None, coerce_to_string=False, allow_null=True)
    ask = serializers.DecimalField(None, None, coerce_to_string=False, allow_null=True)
    volume = serializers.DecimalField(None, None, coerce_to_string=False, allow_null=True)
    status = serializers.CharField(help_text="used or excluded")
    reason = serializers.CharField(allow_null=True, help_text="why excluded, as a code")
    detail = serializers.CharField(allow_null=True, help_text="why excluded, as a sentence")


class RefreshErrorOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    detail = serializers.CharField()
    sources = SourceOutput(many=True)


class PriceOutput(serializers.Serializer):
    asset = serializers.CharField()
    price = serializers.DecimalField(None, None, coerce_to_string=False)
    last_updated = serializers.DateTimeField(help_text="Venue time of the newest quote used (UTC).")
    aggregated_at = serializers.DateTimeField()
    method = serializers.CharField()
    tier = serializers.CharField(help_text="hot, medium or cold: how often it is refreshed.")
    sources_used = serializers.IntegerField()
    sources_total = serializers.IntegerField()
    stale = serializers.BooleanField()
    age_seconds = serializers.FloatField(help_text="Seconds since last_updated.")
    confidence = serializers.DecimalField(
        None, None, coerce_to_string=False, help_text="Half-width of the used venues' range."
    )
    best_bid = serializers.DecimalField(None, None, coerce_to_string=False, allow_null=True)
    best_ask = serializers.DecimalField(None, None, coerce_to_string=False, allow_null=True)
    volume = serializers.DecimalField(
        None, None, coerce_to_string=False, help_text="24 h base volume of the used venues."
    )
    sources = SourceOutput(many=True)
    last_refresh_error = RefreshErrorOutput(
        required=False, help_text="Why refreshes fail, while the price shown is stale."
    )


class PriceView(APIView):
    def get(self, request: Request, asset: str) -> Response:
        known = _known_asset(asset)
        method = request.query_params.get("method", known.method)
        if method not in METHODS:
            raise ApiError(
                400,
                "invalid_method",
                f"method is one of: {', '.join(METHODS)}.",
                methods=[*METHODS],
            )
        price_cache.count_request(known.symbol)
        price = price_latest(symbol=known.symbol)
        failure = price_cache.load_failure(known.symbol)
        if price is None:
            why = f" The last refresh failed: {failure.detail}" if failure else ""
            raise ApiError(503, "no_price", f"No price for {known.symbol} is available yet.{why}")
        if method != price.method:
            price = _priced_by(price, method)
        return Response(_price_output(price, known, failure))


class RefreshView(APIView):
    def post(self, request: Request, asset: str) -> Response:
        known = _known_asset(asset)
        try:
            price = price_refresh(symbol=known.symbol, wait_seconds=REFRESH_WAIT_SECONDS)
        except NoQuorum as exc:
            sources = SourceOutput(exc.sources, many=True).data
            raise ApiError(503, "no_quorum", str(exc), sources=sources) from exc
        except price_cache.RefreshInProgress as exc:
            raise ApiError(503, "refresh_in_progress", str(exc)) from exc
        message = f"Price for {known.symbol} refreshed"
        return Response({"message": message, "price": _price_output(price, known, None)})


def _known_asset(raw: str) -> Asset:
    symbol = raw.upper()
    if not _SYMBOL_RE.match(symbol):
        raise ApiError(
            400, "invalid_asset", "An asset is 2-20 letters or digits, base then quote: BTCUSDT."
        )
    asset = Asset.objects.filter(symbol=symbol, enabled=True).first()
    if asset is None:
        raise ApiError(404, "unknown_asset", f"PriceHub does not price {symbol}.")
    return asset


def _priced_by(price: AggregatedPrice, method: str) -> AggregatedPrice:
    """Return price recomputed by another method from the quotes it used."""
    try:
        return replace(price, price=combine(price.used, method), method=method)
    except ValueError as exc:
        raise ApiError(503, "no_price", f"No {method} for {price.asset}: {exc}.") from exc


def _price_output(
    price: AggregatedPrice, asset: Asset, failure: RefreshFailure | None
) -> dict[str, Any]:
    tier = asset_tier(asset, price_cache.promoted())
    age = (datetime.now(UTC) - price.last_updated).total_seconds()
    stale_after = max(
        5.0, settings.PRICEHUB_STALE_AFTER_INTERVALS * settings.PRICEHUB_TIER_SECONDS[tier]
    )
    failing = failure is not None and failure.at > price.aggregated_at
    used = price.used
    document = {
        "asset": price.asset,
        "price": price.price,
        "last_updated": price.last_updated,
        "aggregated_at": price.aggregated_at,
        "method": price.method,
        "tier": tier,
        "sources_used": len(used),
        "sources_total": len(price.sources),
        "stale": failing or age > stale_after,
        "age_seconds": round(max(age, 0.0), 3),
        "confidence": methods.confidence(used),
        "best_bid": _if_quoted(methods.best_bid, used),
        "best_ask": _if_quoted(methods.best_ask, used),
        "volume": sum((source.volume or 0 for source in used), Decimal(0)),
        "sources": price.sources,
    }
    if failing:
        document["last_refresh_error"] = failure
    return PriceOutput(document).data


def _if_quoted(best: Callable[[list[Source]], Decimal], used: list[Source]) -> Decimal | None:
    try:
        return best(used)
    except ValueError:  # no used venue quotes that side of the book
        return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Answer every error with {"error", "detail"}; a backend outage is a 503, never a 500."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, _BACKEND_ERRORS):
        logger.exception("Backend unavailable")
        exc = ApiError(503, "unavailable", "A PriceHub backend is unavailable; try again shortly.")
    if not isinstance(exc, exceptions.APIException):
        return None
    response = drf_exception_handler(exc, context)
    if response is not None:
        code = getattr(exc.detail, "code", None) or exc.default_code
        response.data = {"error": code, "detail": str(exc.detail), **getattr(exc, "extra", {})}
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"error": "not_found", "detail": "No such endpoint."}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"error": "internal_error", "detail": "PriceHub failed to answer; the error is logged."},
        status=500,
    )

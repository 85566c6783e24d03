"""The REST API: thin views over the refresh service and the price selector."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
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

from aggregation.models import SYMBOL_PATTERN, Asset
from aggregation.price import AggregatedPrice
from aggregation.selectors import price_latest
from aggregation.services import NoQuorum, price_refresh

logger = logging.getLogger(__name__)

_SYMBOL_RE = re.compile(SYMBOL_PATTERN)
_BACKEND_ERRORS = (RedisError, BotoCoreError, ClientError, DatabaseError)


class ApiError(exceptions.APIException):
    """An error answered with PriceHub's body: {"error": code, "detail": sentence, ...extra}."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        self.status_code = status
        self.extra = extra
        super().__init__(detail, code)


class SourceOutput(serializers.Serializer):
    exchange = serializers.CharField()
    price = serializers.DecimalField(None, None, coerce_to_string=False, allow_null=True)
    volume = serializers.DecimalField(None, None, coerce_to_string=False, allow_null=True)
    status = serializers.CharField()
    reason = serializers.CharField(allow_null=True)


class PriceOutput(serializers.Serializer):
    asset = serializers.CharField()
    price = serializers.DecimalField(None, None, coerce_to_string=False)
    last_updated = serializers.DateTimeField(help_text="Venue time of the newest quote used (UTC).")
    aggregated_at = serializers.DateTimeField()
    method = serializers.CharField()
    sources_used = serializers.IntegerField()
    sources_total = serializers.IntegerField()
    stale = serializers.BooleanField()
    age_seconds = serializers.FloatField(help_text="Seconds since last_updated.")
    sources = SourceOutput(many=True)


class PriceView(APIView):
    def get(self, request: Request, asset: str) -> Response:
        known = _known_asset(asset)
        price = price_latest(symbol=known.symbol)
        if price is None:
            raise ApiError(503, "no_price", f"No price for {known.symbol} is available yet.")
        return Response(_price_output(price, known))


class RefreshView(APIView):
    def post(self, request: Request, asset: str) -> Response:
        known = _known_asset(asset)
        try:
            price = price_refresh(symbol=known.symbol)
        except NoQuorum as exc:
            sources = SourceOutput(exc.sources, many=True).data
            raise ApiError(503, "no_quorum", str(exc), sources=sources) from exc
        message = f"Price for {known.symbol} refreshed"
        return Response({"message": message, "price": _price_output(price, known)})


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


def _price_output(price: AggregatedPrice, asset: Asset) -> dict[str, Any]:
    age = (datetime.now(UTC) - price.last_updated).total_seconds()
    stale_after = max(5.0, settings.PRICEHUB_STALE_AFTER_INTERVALS * _interval(asset))
    document = {
        "asset": price.asset,
        "price": price.price,
        "last_updated": price.last_updated,
        "aggregated_at": price.aggregated_at,
        "method": price.method,
        "sources_used": price.sources_used,
        "sources_total": len(price.sources),
        "stale": age > stale_after,
        "age_seconds": round(max(age, 0.0), 3),
        "sources": price.sources,
    }
    return PriceOutput(document).data


def _interval(asset: Asset) -> float:
    return settings.PRICEHUB_TIER_SECONDS[asset.tier]


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

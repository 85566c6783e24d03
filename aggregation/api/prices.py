"""Latest prices: one asset, a batch of assets, and a refresh on demand."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from aggregation import methods, price_cache
from aggregation.aggregate import NoQuorum, combine
from aggregation.api.errors import ApiError, ErrorOutput, errors
from aggregation.methods import METHODS
from aggregation.models import SYMBOL_PATTERN, Asset
from aggregation.price import AggregatedPrice, RefreshFailure, Source
from aggregation.selectors import asset_tier, price_latest
from aggregation.services import price_refresh
from pricehub.metrics import PRICE_AGE_SECONDS

_SYMBOL_RE = re.compile(SYMBOL_PATTERN)
# How long POST /refresh waits for a refresh of the same asset that is already running.
REFRESH_WAIT_SECONDS = 10
MAX_BATCH = 50


class RefreshAnonThrottle(AnonRateThrottle):
    scope = "refresh_anon"


class RefreshTokenThrottle(UserRateThrottle):
    scope = "refresh_token"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        # Anonymous callers answer to the stricter throttle alone.
        if request.user is None or not request.user.is_authenticated:
            return None
        return super().get_cache_key(request, view)


class ReadThrottle(AnonRateThrottle):
    """Per-client read limit, when settings.PRICEHUB_THROTTLE_READS turns it on."""

    scope = "read"

    def allow_request(self, request: Request, view: APIView) -> bool:
        return not settings.PRICEHUB_THROTTLE_READS or super().allow_request(request, view)


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


class BatchErrorOutput(ErrorOutput):
    asset = serializers.CharField()


class BatchOutput(serializers.Serializer):
    prices = PriceOutput(many=True)
    errors = BatchErrorOutput(many=True, help_text="Assets that could not be served, and why.")


class RefreshOutput(serializers.Serializer):
    message = serializers.CharField()
    price = PriceOutput()


class PriceView(APIView):
    throttle_classes = [ReadThrottle]

    @extend_schema(
        parameters=[
            OpenApiParameter("method", str, enum=list(METHODS), description="default: the asset's")
        ],
        responses={200: PriceOutput, **errors(304, 400, 404, 429, 503)},
        summary="The latest price of one asset",
    )
    def get(self, request: Request, asset: str) -> Response:
        known = known_asset(asset)
        document = price_document(known, request.query_params.get("method", known.method))
        response = Response(document)
        tier_seconds = settings.PRICEHUB_TIER_SECONDS[document["tier"]]
        response["Cache-Control"] = f"max-age={max(1, int(tier_seconds))}"
        response["ETag"] = _etag(document)
        return response


class PriceListView(APIView):
    throttle_classes = [ReadThrottle]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "assets", str, required=True, description=f"comma-separated, at most {MAX_BATCH}"
            )
        ],
        responses={200: BatchOutput, **errors(400, 429)},
        summary="The latest prices of several assets",
        operation_id="prices_batch",
    )
    def get(self, request: Request) -> Response:
        symbols = [s for s in request.query_params.get("assets", "").split(",") if s.strip()]
        if not symbols:
            raise ApiError(400, "invalid_request", "Give assets=BTCUSDT,ETHUSDT,...")
        if len(symbols) > MAX_BATCH:
            raise ApiError(400, "too_many_assets", f"Ask for at most {MAX_BATCH} assets at once.")
        prices, failures = [], []
        for raw in dict.fromkeys(symbol.strip().upper() for symbol in symbols):
            try:
                asset = known_asset(raw)
                prices.append(price_document(asset, asset.method))
            except ApiError as exc:
                failures.append({"asset": raw, "error": exc.detail.code, "detail": str(exc.detail)})
        return Response({"prices": prices, "errors": failures})


class RefreshView(APIView):
    throttle_classes = [RefreshAnonThrottle, RefreshTokenThrottle]

    @extend_schema(
        request=None,
        responses={200: RefreshOutput, **errors(400, 404, 429, 503)},
        summary="Refresh one asset's price now",
    )
    def post(self, request: Request, asset: str) -> Response:
        known = known_asset(asset)
        try:
            price = price_refresh(symbol=known.symbol, wait_seconds=REFRESH_WAIT_SECONDS)
        except NoQuorum as exc:
            sources = SourceOutput(exc.sources, many=True).data
            raise ApiError(503, "no_quorum", str(exc), sources=sources) from exc
        except price_cache.RefreshInProgress as exc:
            raise ApiError(503, "refresh_in_progress", str(exc)) from exc
        message = f"Price for {known.symbol} refreshed"
        output = _output(price, known, None, price_cache.promoted())
        return Response({"message": message, "price": output})


def known_asset(raw: str) -> Asset:
    """Return the enabled asset raw names, in any case; raise ApiError 400 or 404."""
    symbol = raw.upper()
    if not _SYMBOL_RE.fullmatch(symbol):
        raise ApiError(
            400, "invalid_asset", "An asset is 2-20 letters or digits, base then quote: BTCUSDT."
        )
    asset = Asset.objects.filter(symbol=symbol, enabled=True).first()
    if asset is None:
        raise ApiError(404, "unknown_asset", f"PriceHub does not price {symbol}.")
    return asset


def price_document(asset: Asset, method: str) -> dict[str, Any]:
    """Return the latest price of asset by method, as the API shows it; raise ApiError."""
    if method not in METHODS:
        raise ApiError(
            400, "invalid_method", f"method is one of: {', '.join(METHODS)}.", methods=[*METHODS]
        )
    price_cache.count_request(asset.symbol)
    latest = price_latest(symbol=asset.symbol)
    price, failure = latest.price, latest.failure
    if price is None:
        why = f" The last refresh failed: {failure.detail}" if failure else ""
        raise ApiError(503, "no_price", f"No price for {asset.symbol} is available yet.{why}")
    if method != price.method:
        price = _priced_by(price, method)
    return _output(price, asset, failure, latest.promoted)


def _priced_by(price: AggregatedPrice, method: str) -> AggregatedPrice:
    """Return price recomputed by another method from the quotes it used."""
    try:
        return replace(price, price=combine(price.used, method), method=method)
    except ValueError as exc:
        raise ApiError(503, "no_price", f"No {method} for {price.asset}: {exc}.") from exc


def _output(
    price: AggregatedPrice,
    asset: Asset,
    failure: RefreshFailure | None,
    promoted: frozenset[str],
) -> dict[str, Any]:
    tier = asset_tier(asset, promoted)
    interval = settings.PRICEHUB_TIER_SECONDS[tier]
    age = max((datetime.now(UTC) - price.last_updated).total_seconds(), 0.0)
    PRICE_AGE_SECONDS.labels(tier).observe(age)
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
        "stale": failing or age > max(5.0, settings.PRICEHUB_STALE_AFTER_INTERVALS * interval),
        "age_seconds": round(age, 3),
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


def _etag(document: dict[str, Any]) -> str:
    # A new aggregation, another method or a new failure changes what the client holds;
    # the age alone does not.
    failure = document.get("last_refresh_error")
    version = [document["asset"], document["method"], document["aggregated_at"]]
    return f'W/"{"-".join([*version, failure["at"] if failure else ""])}"'

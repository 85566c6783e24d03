"""Latest prices: one asset, a batch of assets, and a refresh on demand."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpResponse, QueryDict
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, BaseThrottle, UserRateThrottle
from rest_framework.views import APIView

from aggregation import scheduling
from aggregation.aggregate import NoQuorum
from aggregation.api.reads import JSON, ReadView
from aggregation.documents import PriceOutput, render_sources
from aggregation.methods import METHODS
from aggregation.price import RefreshError, RoundNoQuorum
from aggregation.selectors import (
    MAX_BATCH,
    BatchReading,
    Reading,
    asset_known,
    price_document,
    price_reading,
    prices_reading,
)
from aggregation.services import price_refresh_shared
from common import redis_store
from common.errors import ApiError, ErrorOutput, errors
from common.throttling import ByNetwork


class RefreshAnonThrottle(ByNetwork, AnonRateThrottle):
    scope = "refresh_anon"


class RefreshTokenThrottle(ByNetwork, UserRateThrottle):
    scope = "refresh_token"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        # Anonymous callers answer to the stricter throttle alone.
        if request.user is None or not request.user.is_authenticated:
            return None
        return super().get_cache_key(request, view)


class BatchErrorOutput(ErrorOutput):
    asset = serializers.CharField()


class BatchOutput(serializers.Serializer):
    prices = PriceOutput(many=True)
    errors = BatchErrorOutput(many=True, help_text="Assets that could not be served, and why.")


class RefreshOutput(serializers.Serializer):
    message = serializers.CharField()
    reused = serializers.BooleanField(
        help_text="false: this request's own round of calls to the venues made the price; "
        "true: no venue was asked for it, the price being younger than REFRESH_FRESH_SECONDS "
        "(1 s by default) or made by the round of a refresh already running."
    )
    price = PriceOutput()


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("method", str, enum=list(METHODS), description="default: the asset's")
        ],
        responses={200: PriceOutput, **errors(304, 400, 404, 429, 503)},
        summary="The latest price of one asset",
    )
)
class PriceView(ReadView):
    def read(self, query: QueryDict, asset: str) -> HttpResponse:
        # QueryDict.get raises and catches a KeyError for a name not given: ~4 % of a hot GET.
        method = query.get("method") if "method" in query else None
        reading = price_reading(symbol=asset, method=method)
        scheduling.count_requests([reading.symbol])
        return HttpResponse(reading.body, headers=price_headers(reading))


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter(
                "assets", str, required=True, description=f"comma-separated, at most {MAX_BATCH}"
            )
        ],
        responses={200: BatchOutput, **errors(400, 429)},
        summary="The latest prices of several assets",
        operation_id="prices_batch",
    )
)
class PriceListView(ReadView):
    def read(self, query: QueryDict) -> HttpResponse:
        reading = prices_reading(symbols=query.get("assets", "").split(","))
        scheduling.count_requests(reading.symbols)
        return HttpResponse(reading.body, headers=price_headers(reading))


class RefreshView(APIView):
    throttle_classes = [RefreshAnonThrottle, RefreshTokenThrottle]

    def get_throttles(self) -> list[BaseThrottle]:
        # Only a POST refreshes: any other method is answered (405, OPTIONS) without
        # spending the quota.
        return super().get_throttles() if self.request.method == "POST" else []

    def check_throttles(self, request: Request) -> None:
        # The counts are in Redis, which the cache reads quietly through an outage (as no
        # count): a refresh that cannot be counted is refused, 503, never let through.
        if self.get_throttles():
            redis_store.ping()
        super().check_throttles(request)

    @extend_schema(
        request=None,
        responses={200: RefreshOutput, **errors(400, 404, 429, 503)},
        summary="Refresh one asset's price now",
    )
    def post(self, request: Request, asset: str) -> HttpResponse:
        known = asset_known(asset)
        try:
            refreshed = price_refresh_shared(
                symbol=known.symbol,
                fresh_seconds=settings.PRICEHUB_REFRESH_FRESH_SECONDS,
                wait_seconds=settings.PRICEHUB_REFRESH_WAIT_SECONDS,
            )
        except NoQuorum as exc:
            raise ApiError(503, exc.code, str(exc), sources=render_sources(exc.sources)) from exc
        except RoundNoQuorum as exc:  # the round waited for: its own error, as it kept it
            raise ApiError(503, exc.code, str(exc), sources=exc.sources) from exc
        except RefreshError as exc:
            raise ApiError(503 if exc.retry else 404, exc.code, str(exc)) from exc
        message = json.dumps(f"Price for {known.symbol} refreshed").encode()
        reused = b"true" if refreshed.reused else b"false"
        document = price_document(refreshed.price)
        body = b'{"message":' + message + b',"reused":' + reused + b',"price":' + document + b"}"
        return HttpResponse(body, content_type=JSON)


def price_headers(reading: Reading | BatchReading) -> dict[str, str]:
    """Return the headers of a price document: its type, version and lifetime."""
    return {
        "Content-Type": JSON,
        "ETag": reading.etag,
        "Cache-Control": f"max-age={reading.max_age}",
    }

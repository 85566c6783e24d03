"""The venues PriceHub asks, with their circuits and recent health, for operators.

Anyone may read GET /exchanges; a venue's base URL and the words of its last error are for
staff signed in to the admin and API token holders only: they may name an internal address
or repeat what the venue said.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import ApiError, errors
from exchanges import limits
from exchanges.adapters import get_adapter
from exchanges.circuits import circuit_state
from exchanges.health import WINDOW, venue_health
from exchanges.models import Exchange, Market

PRIVATE = "For staff signed in to the admin and API token holders only."


class LastErrorOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    reason = serializers.CharField(
        help_text="timeout, unreachable, venue_error, bad_response, rate_limited or circuit_open."
    )
    detail = serializers.CharField(required=False, help_text=f"What failed. {PRIVATE}")


class LatencyOutput(serializers.Serializer):
    mean = serializers.FloatField(allow_null=True)
    p95 = serializers.FloatField(allow_null=True)


class LimitOutput(serializers.Serializer):
    rule = serializers.CharField(
        help_text="The venue's documented limit, e.g. 10 requests a second."
    )
    waiting_until = serializers.DateTimeField(
        allow_null=True, help_text="No call is made to the venue before then, as it asked."
    )
    why = serializers.CharField(allow_null=True, help_text="What the venue said, e.g. HTTP 429.")
    refused = serializers.IntegerField(help_text="Calls the venue refused for its limit.")
    held = serializers.IntegerField(help_text="Calls PriceHub held back to keep within it.")


class ExchangeOutput(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    base_url = serializers.URLField(required=False, help_text=PRIVATE)
    enabled = serializers.BooleanField()
    timeout_seconds = serializers.FloatField()
    circuit = serializers.ChoiceField(
        ["closed", "open", "half-open"], help_text="open: requests fail fast, none is sent."
    )
    last_success = serializers.DateTimeField(allow_null=True)
    last_error = LastErrorOutput(allow_null=True)
    latency_ms = LatencyOutput(help_text=f"Over the last {WINDOW} requests, failed ones too.")
    error_rate = serializers.FloatField(
        allow_null=True, help_text=f"Failed share of the last {WINDOW} requests."
    )
    requests = serializers.IntegerField(help_text=f"Requests counted, at most {WINDOW}.")
    limit = LimitOutput(help_text="The venue's rate limit, and how PriceHub kept within it.")


class ExchangeListOutput(serializers.Serializer):
    exchanges = ExchangeOutput(many=True)


class ExchangeListView(APIView):
    # A staff member's browser is signed in to the admin; a GET needs no CSRF token.
    authentication_classes = [TokenAuthentication, SessionAuthentication]

    @extend_schema(
        responses={200: ExchangeListOutput, **errors(503)},
        summary="Every venue with its circuit and recent health",
    )
    def get(self, request: Request) -> Response:
        private = _sees_private(request)
        exchanges = [
            _with_health(exchange, private=private)
            for exchange in Exchange.objects.order_by("name")
        ]
        return Response(ExchangeListOutput({"exchanges": exchanges}).data)


def _sees_private(request: Request) -> bool:
    user = request.user
    if user is None or not user.is_authenticated:
        return False
    return request.auth is not None or user.is_staff  # a token, or staff's own session


def _with_health(exchange: Exchange, *, private: bool) -> dict[str, Any]:
    health = venue_health(exchange.name)
    if health["last_error"] is not None and not private:
        health["last_error"] = {key: health["last_error"][key] for key in ("at", "reason")}
    return {
        "name": exchange.name,
        "kind": exchange.kind,
        **({"base_url": exchange.base_url} if private else {}),
        "enabled": exchange.enabled,
        "timeout_seconds": exchange.timeout_seconds,
        "circuit": circuit_state(exchange.name),
        **health,
        "limit": limits.state(exchange.name, get_adapter(exchange.kind).limit),
    }


class MarketOutput(serializers.Serializer):
    exchange = serializers.CharField(source="exchange.name")
    symbol = serializers.CharField(help_text="The venue's name: BTCUSDT, BTC-USD, XXBTZUSD.")
    base = serializers.CharField(help_text="Common code, e.g. BTC.")
    quote = serializers.CharField(help_text="Common code, e.g. USD.")
    status = serializers.ChoiceField(Market.Status.values)
    venue_status = serializers.CharField(help_text="The venue's own word: TRADING, online.")
    updated_at = serializers.DateTimeField()


class MarketListOutput(serializers.Serializer):
    markets = MarketOutput(many=True)


# The filters of GET /markets: each query parameter, the field it matches and its help.
MARKET_FILTERS = {
    "exchange": ("exchange__name", "a venue's name, e.g. kraken"),
    "base": ("base", "a common code, e.g. BTC"),
    "quote": ("quote", "a common code, e.g. USD"),
    "status": ("status", " or ".join(Market.Status.values)),
}


class MarketListView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(name, str, description=help_text)
            for name, (_, help_text) in MARKET_FILTERS.items()
        ],
        responses={200: MarketListOutput, **errors(400)},
        summary="The venues' markets from their catalogues, filtered",
    )
    def get(self, request: Request) -> Response:
        given = {
            field: request.query_params[name].upper()
            if name in ("base", "quote")
            else request.query_params[name]
            for name, (field, _) in MARKET_FILTERS.items()
            if name in request.query_params
        }
        if given.get("status", Market.Status.TRADING) not in Market.Status.values:
            raise ApiError(400, "invalid_status", f"status is {MARKET_FILTERS['status'][1]}.")
        markets = Market.objects.filter(**given).select_related("exchange")
        return Response(MarketListOutput({"markets": markets}).data)

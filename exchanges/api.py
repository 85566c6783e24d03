"""The venues PriceHub asks, with their circuits and recent health, for operators."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.errors import errors
from exchanges.client import circuit_state
from exchanges.health import WINDOW, venue_health
from exchanges.models import Exchange


class LastErrorOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    detail = serializers.CharField()


class LatencyOutput(serializers.Serializer):
    mean = serializers.FloatField(allow_null=True)
    p95 = serializers.FloatField(allow_null=True)


class ExchangeOutput(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    base_url = serializers.URLField()
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


class ExchangeListOutput(serializers.Serializer):
    exchanges = ExchangeOutput(many=True)


class ExchangeListView(APIView):
    @extend_schema(
        responses={200: ExchangeListOutput, **errors(503)},
        summary="Every venue with its circuit and recent health",
    )
    def get(self, request: Request) -> Response:
        exchanges = [_with_health(exchange) for exchange in Exchange.objects.order_by("name")]
        return Response(ExchangeListOutput({"exchanges": exchanges}).data)


def _with_health(exchange: Exchange) -> dict[str, Any]:
    return {
        "name": exchange.name,
        "kind": exchange.kind,
        "base_url": exchange.base_url,
        "enabled": exchange.enabled,
        "timeout_seconds": exchange.timeout_seconds,
        "circuit": circuit_state(exchange.name),
        **venue_health(exchange.name),
    }

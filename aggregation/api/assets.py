"""The assets PriceHub is configured to price, paged and filtered."""

from __future__ import annotations

import re

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aggregation import scheduling
from aggregation.api import paging
from aggregation.api.reads import ReadThrottle
from aggregation.models import Asset
from aggregation.selectors import asset_list
from common.errors import ApiError, errors
from exchanges.models import Exchange

# Part of a name: letters and digits, no longer than a symbol.
_TEXT_RE = re.compile(r"[A-Za-z0-9]{1,20}")
_SYMBOL_RE = re.compile(r"[A-Z0-9]{1,20}")
_BOOLEANS = {"true": True, "false": False}


class AssetOutput(serializers.Serializer):
    symbol = serializers.CharField()
    base = serializers.CharField()
    quote = serializers.CharField()
    enabled = serializers.BooleanField()
    tier = serializers.CharField(help_text="The tier set in the admin.")
    refresh_tier = serializers.CharField(help_text="The tier it refreshes at: hot when promoted.")
    refresh_seconds = serializers.FloatField()
    method = serializers.CharField()
    quorum = serializers.IntegerField()


class AssetListOutput(serializers.Serializer):
    assets = AssetOutput(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as cursor for more.")


class AssetListView(APIView):
    throttle_classes = [ReadThrottle]

    @extend_schema(
        parameters=[
            OpenApiParameter("tier", str, enum=Asset.Tier.values, description="set in the admin"),
            OpenApiParameter(
                "venue", str, description="a venue's name: assets it lists a market of"
            ),
            OpenApiParameter("q", str, description="part of the symbol or base, in any case"),
            OpenApiParameter("enabled", bool),
            *paging.PARAMETERS,
        ],
        responses={200: AssetListOutput, **errors(400, 429)},
        summary="The configured assets in symbol order, paged and filtered",
    )
    def get(self, request: Request) -> Response:
        # An empty parameter, as in ?q=, is an absent one, as on every endpoint.
        params = {name: value for name, value in request.query_params.items() if value}
        limit = paging.page_limit(params.get("limit"))
        found = asset_list(
            limit=limit + 1,  # one more tells whether a next page follows
            after=paging.cursor_after(
                params.get("cursor"),
                valid=lambda after: type(after) is str and _SYMBOL_RE.fullmatch(after) is not None,
                detail="cursor is not a next_cursor of GET /assets.",
            ),
            tier=_tier(params.get("tier")),
            venue=_venue(params.get("venue")),
            text=_text(params.get("q")),
            enabled=_enabled(params.get("enabled")),
        )
        page = found[:limit]
        cursor = paging.next_cursor(page[-1].symbol) if len(found) > limit else None
        promoted = scheduling.promoted()
        for asset in page:
            asset.refresh_tier = scheduling.asset_tier(asset, promoted)
            asset.refresh_seconds = settings.PRICEHUB_TIER_SECONDS[asset.refresh_tier]
        return Response(AssetListOutput({"assets": page, "next_cursor": cursor}).data)


def _tier(raw: str | None) -> str | None:
    if raw is not None and raw not in Asset.Tier.values:
        raise ApiError(400, "invalid_tier", f"tier is one of: {', '.join(Asset.Tier.values)}.")
    return raw


def _venue(raw: str | None) -> str | None:
    if raw is None:
        return None
    names = list(Exchange.objects.values_list("name", flat=True))
    if raw not in names:
        raise ApiError(400, "invalid_venue", f"venue is one of: {', '.join(names)}.")
    return raw


def _text(raw: str | None) -> str | None:
    if raw is not None and not _TEXT_RE.fullmatch(raw):
        raise ApiError(400, "invalid_query", "q is 1-20 letters or digits, part of a symbol.")
    return raw


def _enabled(raw: str | None) -> bool | None:
    if raw is not None and raw not in _BOOLEANS:
        raise ApiError(400, "invalid_enabled", "enabled is true or false.")
    return None if raw is None else _BOOLEANS[raw]

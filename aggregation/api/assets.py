"""The assets PriceHub is configured to price."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aggregation import scheduling
from aggregation.api.reads import ReadThrottle
from aggregation.models import Asset
from common.errors import errors


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


class AssetListView(APIView):
    throttle_classes = [ReadThrottle]

    @extend_schema(
        responses={200: AssetListOutput, **errors(429)}, summary="Every configured asset"
    )
    def get(self, request: Request) -> Response:
        promoted = scheduling.promoted()
        assets = []
        for asset in Asset.objects.all():
            tier = scheduling.asset_tier(asset, promoted)
            asset.refresh_tier = tier
            asset.refresh_seconds = settings.PRICEHUB_TIER_SECONDS[tier]
            assets.append(asset)
        return Response(AssetListOutput({"assets": assets}).data)

"""The documents rendered by hand are the ones their serializers (the API schema) describe."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from rest_framework.renderers import JSONRenderer

from aggregation import documents, methods
from aggregation.price import RefreshFailure, Source
from aggregation.tests.test_price import PRICE

KEPT = Source(
    "coinbase",
    "used",
    detail="kept: its last good quote",
    price=Decimal("67020.5"),
    bid=None,
    ask=Decimal("67021"),
    volume=Decimal("0.000001"),
    quoted_at=datetime(2026, 11, 25, 11, 59, 58, 125000, tzinfo=UTC),
)


def _drf(serializer) -> dict:
    return json.loads(JSONRenderer().render(serializer.data))


def test_a_price_renders_as_its_serializer_does():
    price = replace(PRICE, sources=(*PRICE.sources, KEPT))
    used = price.used
    expected = _drf(
        documents.PublishedPriceOutput(
            {
                "asset": price.asset,
                "price": price.price,
                "last_updated": price.last_updated,
                "aggregated_at": price.aggregated_at,
                "method": price.method,
                "sources_used": len(used),
                "sources_total": len(price.sources),
                "confidence": methods.confidence(used),
                "best_bid": methods.best_bid(used),
                "best_ask": methods.best_ask(used),
                "volume": sum(source.volume for source in used),
                "sources": price.sources,
            }
        )
    )
    assert json.loads(documents.render_price(price)) == expected
    assert expected["sources"][2]["quoted_at"] == "2026-11-25T11:59:58.125000Z"


def test_a_failure_renders_as_its_serializer_does():
    failure = RefreshFailure(
        asset="BTCUSDT",
        at=datetime(2026, 11, 25, 12, 0, 3, tzinfo=UTC),
        detail="2 of 3 venues answered; the quorum is 3",
        sources=(*PRICE.sources, KEPT),
    )
    expected = _drf(documents.RefreshErrorOutput(failure))
    assert json.loads(documents.render_failure(failure)) == expected


def test_a_reading_splices_the_published_documents_as_its_serializer_renders_them():
    price = replace(PRICE, sources=(*PRICE.sources, KEPT))
    failure = RefreshFailure(PRICE.asset, datetime(2026, 11, 25, 12, 0, 3, tzinfo=UTC), "No.", ())
    published = json.loads(documents.render_price(price))
    moment = {"tier": "hot", "stale": True, "age_seconds": 2.75}
    expected = _drf(
        documents.PriceOutput(
            {**published, **moment, "last_refresh_error": failure, "price": price.price}
        )
    )
    body = documents.render_reading(
        documents.render_price(price), **moment, failure=documents.render_failure(failure)
    )
    assert json.loads(body) == expected
    assert list(json.loads(body))[:3] == ["tier", "stale", "age_seconds"]
    without = documents.render_reading(documents.render_price(price), **moment, failure=None)
    assert json.loads(without) == {**published, **moment}

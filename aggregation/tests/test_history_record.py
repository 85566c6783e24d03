"""Recording history: points, the candles rolled up as they are written, and reading candles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command

from aggregation import recent
from aggregation.candles import INTERVALS, Candle
from aggregation.history import backlog, client, items, reads, store
from aggregation.price import AggregatedPrice, HistoryPoint, Source
from common import redis_store
from common.redis_store import keys
from deploy.services import free_port

pytestmark = pytest.mark.usefixtures("stores")

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


def point(seconds: float, price: str, symbol: str = "BTCUSDT") -> AggregatedPrice:
    moment = T0 + timedelta(seconds=seconds)
    source = Source("binance", "used", price=Decimal(price), volume=Decimal(1))
    return AggregatedPrice(symbol, Decimal(price), "vwap", moment, moment, (source,))


def candle(start: datetime, *ohlc: int | str, points: int) -> Candle:
    return Candle(start, *(Decimal(price) for price in ohlc), points)


def every_candle(symbol: str = "BTCUSDT") -> dict[str, list[Candle]]:
    end = T0 + timedelta(hours=1)
    return {name: reads.candles_between(symbol, name, T0, end) for name in INTERVALS}


def test_it_records_the_point_and_the_candle_of_every_interval(history_count):
    for seconds, price in [(0, "100"), (30, "103"), (90, "98"), (400, "101")]:
        assert store.record([point(seconds, price)])
    assert history_count("BTCUSDT") == 4
    assert every_candle() == {
        "1m": [
            candle(T0, 100, 103, 100, 103, points=2),
            candle(T0 + MINUTE, 98, 98, 98, 98, points=1),
            candle(T0 + 6 * MINUTE, 101, 101, 101, 101, points=1),
        ],
        "5m": [
            candle(T0, 100, 103, 98, 98, points=3),
            candle(T0 + 5 * MINUTE, 101, 101, 101, 101, points=1),
        ],
        "1h": [candle(T0, 100, 103, 98, 101, points=4)],
        "1d": [candle(T0 - timedelta(hours=12), 100, 103, 98, 101, points=4)],
    }


def test_it_skips_a_point_within_the_deviation_and_leaves_the_candles_be(history_count):
    assert store.record([point(0, "100")])
    assert not store.record([point(10, "100.01")])
    assert history_count("BTCUSDT") == 1
    assert every_candle()["1m"] == [candle(T0, 100, 100, 100, 100, points=1)]


def test_a_lost_memo_keeps_the_candles_whole():
    store.record([point(0, "100")])
    store.record([point(10, "120")])
    cache.delete("history-memo:BTCUSDT")
    store.record([point(20, "90")])
    assert every_candle()["1m"] == [candle(T0, 100, 120, 90, 90, points=3)]


def test_its_memo_reads_back_as_the_last_point_and_its_candles():
    store.record([point(0, "100.5"), point(0, "7", "ETHUSDT")])
    store.record([point(90, "101.25")])
    [memo] = recent.memos(["BTCUSDT"])
    assert memo.point == HistoryPoint(T0 + timedelta(seconds=90), Decimal("101.25"), "vwap", 1)
    assert memo.candles == {
        "1m": candle(T0 + MINUTE, "101.25", "101.25", "101.25", "101.25", points=1),
        "5m": candle(T0, "100.5", "101.25", "100.5", "101.25", points=2),
        "1h": candle(T0, "100.5", "101.25", "100.5", "101.25", points=2),
        "1d": candle(T0 - timedelta(hours=12), "100.5", "101.25", "100.5", "101.25", points=2),
    }


def test_it_answers_a_hundred_daily_candles_from_one_bounded_query(client, seeded_assets, queries):
    first = datetime(2026, 8, 17, tzinfo=UTC)
    for day in range(100):
        for hour, price in [(1, 100), (7, 110), (13, 90), (19, 105)]:
            seconds = (first + day * DAY + timedelta(hours=hour) - T0).total_seconds()
            store.record([point(seconds, str(price + day))])
    cache.delete_pattern("*recent*")  # so DynamoDB answers, not the recent candles in Redis
    queries.clear()
    end = (first + 100 * DAY - MINUTE).isoformat()
    response = client.get(
        "/prices/BTCUSDT/candles", {"interval": "1d", "start": first.isoformat(), "end": end}
    )
    assert response.status_code == 200
    assert response.json()["candles"][99] == {
        "start": "2026-11-24T00:00:00Z",
        "open": 199,
        "high": 209,
        "low": 189,
        "close": 204,
        "points": 4,
    }
    assert [c["open"] for c in response.json()["candles"]] == list(range(100, 200))
    # 99 days stored on their own, the last one on the newest point
    assert [(answer["Count"], answer["ScannedCount"]) for answer in queries] == [(99, 99), (1, 1)]


def test_it_still_refuses_more_than_a_thousand_candles(client, seeded_assets):
    query = {"interval": "1d", "start": "2023-01-01T00:00:00", "end": "2026-11-25T00:00:00"}
    response = client.get("/prices/BTCUSDT/candles", query)
    assert (response.status_code, response.json()["error"]) == (400, "range_too_large")


def test_the_rollup_command_rebuilds_the_candles_of_points_stored_without_them(seeded_assets):
    prices = [point(0, "100"), point(30, "103"), point(90, "98"), point(400, "101")]
    for price in prices:
        store.append(price)
    rolled_up = every_candle()
    _forget_stored_candles()
    cache.delete("history-memo:BTCUSDT")
    cache.delete_pattern("*recent*")
    assert every_candle()["1d"] == []
    out = StringIO()
    call_command("rollup_candles", stdout=out)
    assert every_candle() == rolled_up
    assert "BTCUSDT: 7 candles\n" in out.getvalue()
    assert "ETHUSDT: 0 candles\n" in out.getvalue()


def test_it_sends_again_what_dynamodb_left_unprocessed():
    sent = []

    def send(RequestItems: dict[str, Any]) -> dict[str, Any]:
        sent.append(RequestItems)
        return {"UnprocessedItems": {"prices": ["b"]} if len(sent) == 1 else {}}

    client._until_processed(send, {"prices": ["a", "b"]}, "UnprocessedItems")
    assert sent == [{"prices": ["a", "b"]}, {"prices": ["b"]}]


def test_it_fails_when_dynamodb_keeps_leaving_items_unprocessed():
    def send(RequestItems: dict[str, Any]) -> dict[str, Any]:
        return {"UnprocessedItems": RequestItems}

    with pytest.raises(ClientError, match="UnprocessedItems after 4 attempts"):
        client._until_processed(send, {"prices": ["a"]}, "UnprocessedItems")


def _dynamodb() -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=settings.DYNAMODB_ENDPOINT_URL,
        region_name=settings.AWS_REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _stored_candles() -> list[tuple[str, Candle]]:
    found = _dynamodb().scan(TableName=f"{settings.DYNAMODB_TABLE}-candles")["Items"]
    return sorted((item["asset"]["S"], items.candle(item)) for item in found)


def _forget_stored_candles() -> None:
    # As if the points had been stored before they carried their candles.
    client = _dynamodb()
    table = settings.DYNAMODB_TABLE
    for page in client.get_paginator("scan").paginate(TableName=f"{table}-candles"):
        for item in page["Items"]:
            key = {"asset": item["asset"], "timestamp": item["timestamp"]}
            client.delete_item(TableName=f"{table}-candles", Key=key)
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            key = {"asset": item["asset"], "timestamp": item["timestamp"]}
            client.update_item(TableName=table, Key=key, UpdateExpression="REMOVE candles")


def test_it_records_many_assets_in_few_calls_and_skips_those_not_due(history_count, dynamodb_calls):
    symbols = [f"SIM{n:04d}USDT" for n in range(1, 21)]
    store.record([point(0, "100", symbol) for symbol in symbols])
    moved = [point(70, "100", symbol) for symbol in symbols[:10]]  # a minute on: due
    still = [point(10, "100", symbol) for symbol in symbols[10:]]  # neither moved nor aged
    dynamodb_calls.clear()
    assert store.record(moved + still) == moved
    assert dynamodb_calls == ["BatchWriteItem"] * 2  # 10 points, 40 candles: 25 items a call
    assert [history_count(symbol) for symbol in symbols] == [2] * 10 + [1] * 10
    assert reads.candles_between(symbols[0], "1m", T0, T0 + MINUTE) == [
        candle(T0, 100, 100, 100, 100, points=1),
        candle(T0 + MINUTE, 100, 100, 100, 100, points=1),
    ]


def test_lost_memos_are_read_back_from_the_newest_stored_points(dynamodb_calls):
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    store.record([point(0, "100", symbol) for symbol in symbols])
    cache.delete_pattern("history-memo:*")
    dynamodb_calls.clear()
    store.record([point(20, "120", symbol) for symbol in symbols])
    # each newest point read, the 3 points written, then each asset's recent past read
    assert dynamodb_calls == ["Query"] * 3 + ["BatchWriteItem"] + ["Query"] * 15
    assert [every_candle(symbol)["1h"] for symbol in symbols] == [
        [candle(T0, 100, 120, 100, 120, points=2)]
    ] * 3


def test_a_memo_in_a_form_it_cannot_read_counts_as_lost(history_count):
    store.record([point(0, "100")])
    cache.set("history-memo:BTCUSDT", {"point": {"price": {"N": "100"}}, "candles": []})
    assert store.record([point(30, "103")])
    assert history_count("BTCUSDT") == 2
    assert every_candle()["1m"] == [candle(T0, 100, 103, 100, 103, points=2)]


def test_a_memo_with_a_number_it_cannot_read_counts_as_lost(history_count):
    store.record([point(0, "100")])
    redis_store.connection().set(keys.history_memo("BTCUSDT"), b'1 ["1e", "vwap", 3]\n')
    assert store.record([point(30, "103")])
    assert history_count("BTCUSDT") == 2
    assert every_candle()["1m"] == [candle(T0, 100, 103, 100, 103, points=2)]


def test_a_candle_is_stored_on_its_own_once_a_later_point_starts_the_next():
    store.record([point(0, "100")])
    store.record([point(30, "103")])
    assert _stored_candles() == []  # the newest point carries them
    store.record([point(90, "98")])
    assert _stored_candles() == [("BTCUSDT#1m", candle(T0, 100, 103, 100, 103, points=2))]


def test_a_point_that_reached_dynamodb_from_a_write_in_doubt_is_not_stored_twice(history_count):
    store.record([point(0, "100")])
    store.record([point(30, "103")])
    recent.mark_writing(["BTCUSDT"])  # as if that write had been cut short after storing
    assert store.record([point(30, "103")]) == []
    assert history_count("BTCUSDT") == 2
    assert every_candle()["1m"] == [candle(T0, 100, 103, 100, 103, points=2)]


def test_a_price_no_newer_than_the_last_point_is_not_recorded(history_count):
    assert store.record([point(10, "100")])
    assert store.record([point(5, "200")]) == []
    assert store.record([point(10, "300")]) == []
    assert history_count("BTCUSDT") == 1


def test_prices_handed_over_while_dynamodb_is_down_wait_and_are_stored_in_order_once_it_is_back(
    history_count, settings, caplog
):
    endpoint = settings.DYNAMODB_ENDPOINT_URL
    store.record([point(0, "100")])
    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    with caplog.at_level("WARNING", logger="aggregation.history.backlog"):
        for seconds, price in [(10, "103"), (20, "103"), (30, "98"), (70, "101")]:
            backlog.add([point(seconds, price), point(seconds, price, "ETHUSDT")])
            assert backlog.drain() == []
    settings.DYNAMODB_ENDPOINT_URL = endpoint
    assert (history_count("BTCUSDT"), history_count("ETHUSDT")) == (1, 0)
    assert recent.pending_state()[0] == 8
    assert caplog.records
    assert all(record.exc_info is None for record in caplog.records)

    backlog.add([point(80, "99")])
    stored = [(price.asset, price.price) for price in backlog.drain()]
    # In order, by the policy: (20, "103") neither moved nor aged enough after (10, "103").
    assert stored == [
        ("BTCUSDT", Decimal(103)),
        ("ETHUSDT", Decimal(103)),
        ("BTCUSDT", Decimal(98)),
        ("ETHUSDT", Decimal(98)),
        ("BTCUSDT", Decimal(101)),
        ("ETHUSDT", Decimal(101)),
        ("BTCUSDT", Decimal(99)),
    ]
    assert (history_count("BTCUSDT"), history_count("ETHUSDT")) == (5, 3)
    assert recent.pending_state() == (0, None)
    assert every_candle()["1m"] == [
        candle(T0, 100, 103, 98, 98, points=3),
        candle(T0 + MINUTE, 101, 101, 99, 99, points=2),
    ]
    backlog.add([point(70, "101")])
    assert backlog.drain() == []  # none twice
    assert history_count("BTCUSDT") == 5

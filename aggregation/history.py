"""Price history in DynamoDB table `prices`. The only module that imports boto3."""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError
from django.conf import settings

from aggregation.price import AggregatedPrice, epoch_ms, from_epoch_ms

_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def is_due(
    last: AggregatedPrice | None,
    price: AggregatedPrice,
    *,
    deviation_percent: float,
    heartbeat_seconds: float,
) -> bool:
    """Return True when price moved or aged enough since the last point to be recorded."""
    if last is None:
        return True
    elapsed = (price.aggregated_at - last.aggregated_at).total_seconds()
    moved = abs(price.price - last.price) / last.price * 100
    return elapsed >= heartbeat_seconds or moved > Decimal(str(deviation_percent))


def append(price: AggregatedPrice) -> None:
    """Store price as a point of its asset's history."""
    item = {key: _serialize(value) for key, value in price.to_record().items()}
    _client().put_item(TableName=settings.DYNAMODB_TABLE, Item=item)


def latest(symbol: str) -> AggregatedPrice | None:
    """Return the newest stored point of symbol, or None."""
    response = _client().query(
        TableName=settings.DYNAMODB_TABLE,
        KeyConditionExpression="asset = :asset",
        ExpressionAttributeValues={":asset": {"S": symbol}},
        ScanIndexForward=False,
        Limit=1,
    )
    return _from_item(response["Items"][0]) if response["Items"] else None


def page(
    symbol: str,
    start: datetime,
    end: datetime,
    *,
    newest_first: bool,
    limit: int,
    after_ms: int | None = None,
) -> tuple[list[AggregatedPrice], int | None]:
    """Return up to limit points of symbol in [start, end] after the point at after_ms,
    and the timestamp to continue after (None at the end)."""
    request = _range_query(symbol, start, end) | {"ScanIndexForward": not newest_first}
    if after_ms is not None:
        request["ExclusiveStartKey"] = {"asset": {"S": symbol}, "timestamp": {"N": str(after_ms)}}
    response = _client().query(**request, Limit=limit)
    points = [_from_item(item) for item in response["Items"]]
    last = response.get("LastEvaluatedKey")
    return points, None if last is None else int(last["timestamp"]["N"])


def prices_between(
    symbol: str, start: datetime, end: datetime, *, max_points: int
) -> list[tuple[datetime, Decimal]]:
    """Return (time, price) of symbol's points in [start, end], oldest first.

    Raise TooManyPoints past max_points, so one request cannot read a table's worth.
    """
    request = _range_query(symbol, start, end) | {
        "ProjectionExpression": "#t, price",
        "ExpressionAttributeNames": {"#t": "timestamp"},
    }
    points: list[tuple[datetime, Decimal]] = []
    for response in _client().get_paginator("query").paginate(**request):
        for item in response["Items"]:
            points.append((from_epoch_ms(item["timestamp"]["N"]), Decimal(item["price"]["N"])))
        if len(points) > max_points:
            raise TooManyPoints(f"more than {max_points} points in the range")
    return points


class TooManyPoints(Exception):
    """A range holds more points than one request may read."""


def ensure_table() -> None:
    """Create the table unless it exists, and wait until it is active."""
    _ensure_table(_connect(), settings.DYNAMODB_TABLE)


def ping() -> None:
    """Describe the table, raising when DynamoDB cannot be reached (the readiness probe)."""
    _client().describe_table(TableName=settings.DYNAMODB_TABLE)


def _range_query(symbol: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "TableName": settings.DYNAMODB_TABLE,
        "KeyConditionExpression": "asset = :asset AND #t BETWEEN :start AND :end",
        "ExpressionAttributeNames": {"#t": "timestamp"},
        "ExpressionAttributeValues": {
            ":asset": {"S": symbol},
            ":start": {"N": str(epoch_ms(start))},
            ":end": {"N": str(epoch_ms(end))},
        },
    }


def _from_item(item: dict[str, Any]) -> AggregatedPrice:
    return AggregatedPrice.from_record({key: _deserialize(value) for key, value in item.items()})


def _client() -> Any:
    # One thread-safe client per endpoint and table; the table is created on first use.
    return _client_for(settings.DYNAMODB_ENDPOINT_URL, settings.DYNAMODB_TABLE)


@functools.cache
def _client_for(endpoint_url: str | None, table: str) -> Any:
    client = _connect()
    _ensure_table(client, table)
    return client


def _connect() -> Any:
    endpoint = settings.DYNAMODB_ENDPOINT_URL
    credentials = {}
    if endpoint and boto3.Session().get_credentials() is None:
        # DynamoDB Local accepts any credentials; AWS itself takes them from the usual chain.
        credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=settings.AWS_REGION,
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2}),
        **credentials,
    )


def _ensure_table(client: Any, name: str) -> None:
    try:
        client.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": "asset", "KeyType": "HASH"},
                {"AttributeName": "timestamp", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "asset", "AttributeType": "S"},
                {"AttributeName": "timestamp", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )

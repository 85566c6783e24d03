"""The DynamoDB client and PriceHub's two tables: the only module that imports boto3.

Points go to table DYNAMODB_TABLE, finished candles to f"{DYNAMODB_TABLE}-candles" (see
store). The client is made once per endpoint, region and table, which it checks then: it
creates them unless they exist (DynamoDB Local) or, with DYNAMODB_CREATE_TABLES off as in
production, where the infrastructure code makes them, finds a missing one an error.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Item = dict[str, Any]  # a DynamoDB item in its typed form, such as {"price": {"N": "1.5"}}
ERRORS = (BotoCoreError, ClientError)  # what any call may raise
serialize = TypeSerializer().serialize
deserialize = TypeDeserializer().deserialize

T = TypeVar("T")
logger = logging.getLogger(__name__)

_WRITE_BATCH = 25  # the most items one BatchWriteItem takes
_calls = ThreadPoolExecutor(
    max_workers=settings.PRICEHUB_DYNAMODB_CONCURRENT_CALLS, thread_name_prefix="dynamodb"
)


@dataclass(frozen=True, slots=True)
class _Settings:
    endpoint_url: str | None  # None: AWS itself
    region: str
    table: str
    create_tables: bool


def client() -> Any:
    """Return the thread-safe client of the configured DynamoDB, its tables ready."""
    return _client_for(_settings())


def points_table() -> str:
    return settings.DYNAMODB_TABLE


def candles_table() -> str:
    return f"{settings.DYNAMODB_TABLE}-candles"


def ensure_tables() -> None:
    """Create the points and candles tables unless they exist, and wait until they are active
    (whatever DYNAMODB_CREATE_TABLES says: this is asked for)."""
    config = _settings()
    _ensure_tables(_connect(config), config.table)


def ping() -> None:
    """Describe the points table, raising when DynamoDB cannot be reached (the readiness probe)."""
    client().describe_table(TableName=points_table())


def concurrently(call: Callable[..., T], *arguments: Iterable[Any]) -> list[T]:
    """Return call applied to each of arguments' items, the calls run at once (at most a few
    at a time for the whole process); raise the first call's error."""
    return list(_calls.map(call, *arguments))


def query_up_to(request: dict[str, Any], count: int) -> list[Item]:
    """Return up to count items a Query request finds, asking on past DynamoDB's 1 MB pages."""
    items: list[Item] = []
    while len(items) < count:
        response = client().query(**request, Limit=count - len(items))
        items += response["Items"]
        if "LastEvaluatedKey" not in response:
            break
        request = request | {"ExclusiveStartKey": response["LastEvaluatedKey"]}
    return items


def newest(table: str, asset: str, count: int) -> list[Item]:
    """Return up to count of asset's newest items in table, newest first."""
    request = {
        "TableName": table,
        "KeyConditionExpression": "asset = :asset",
        "ExpressionAttributeValues": {":asset": {"S": asset}},
        "ScanIndexForward": False,
        "ConsistentRead": True,  # so it holds the point just written
    }
    return query_up_to(request, count)


def write(items: list[tuple[str, Item]]) -> None:
    """Put each item into its table. BatchWriteItem takes at most 25 items, of any tables;
    the calls run at once: one after the other, they took most of a batch's time."""
    requests: list[dict[str, list[Item]]] = []
    for start in range(0, len(items), _WRITE_BATCH):
        request: dict[str, list[Item]] = {}
        for table, item in items[start : start + _WRITE_BATCH]:
            request.setdefault(table, []).append({"PutRequest": {"Item": item}})
        requests.append(request)
    send = client().batch_write_item
    concurrently(lambda request: _until_processed(send, request, "UnprocessedItems"), requests)


def _until_processed(
    send: Callable[..., dict[str, Any]], request: dict[str, Any], left: str
) -> list[dict[str, Any]]:
    """Send a batch request, then what DynamoDB left of it under left; return the answers.

    Raise ClientError, as for any DynamoDB failure, when some is still left after a few tries.
    """
    answers: list[dict[str, Any]] = []
    attempts = settings.PRICEHUB_DYNAMODB_BATCH_ATTEMPTS
    for attempt in range(attempts):
        if attempt:
            time.sleep(0.05 * 2**attempt)  # DynamoDB leaves some out when throttled: back off
        answers.append(send(RequestItems=request))
        request = answers[-1].get(left)
        if not request:
            return answers
    error = {"Code": left, "Message": f"{left} after {attempts} attempts"}
    raise ClientError({"Error": error}, send.__name__)


def _settings() -> _Settings:
    return _Settings(
        settings.DYNAMODB_ENDPOINT_URL,
        settings.AWS_REGION,
        settings.DYNAMODB_TABLE,
        settings.PRICEHUB_DYNAMODB_CREATE_TABLES,
    )


@functools.cache
def _client_for(config: _Settings) -> Any:
    # Checked once: a failure to connect is not cached, so the next call tries again.
    if not config.table or not config.region:
        raise ImproperlyConfigured("DYNAMODB_TABLE and AWS_REGION must not be empty.")
    client = _connect(config)
    if config.create_tables:
        _ensure_tables(client, config.table)
    else:
        _check_tables(client, config.table)
    return client


def _connect(config: _Settings) -> Any:
    credentials = {}
    if config.endpoint_url and boto3.Session().get_credentials() is None:
        # DynamoDB Local accepts any credentials; AWS itself takes them from the usual chain.
        credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    return boto3.client(
        "dynamodb",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        config=Config(
            connect_timeout=settings.PRICEHUB_DYNAMODB_CONNECT_TIMEOUT_SECONDS,
            read_timeout=settings.PRICEHUB_DYNAMODB_READ_TIMEOUT_SECONDS,
            retries={"max_attempts": 2},
            # The threads and their concurrent calls, each with a connection.
            max_pool_connections=2 * settings.PRICEHUB_DYNAMODB_CONCURRENT_CALLS,
            # The requests are built here, not typed by users: checking each one again cost a
            # busy worker more than DynamoDB's answer did.
            parameter_validation=False,
        ),
        **credentials,
    )


def _check_tables(client: Any, table: str) -> None:
    # Raised as any DynamoDB failure is, so every caller handles it as an outage of DynamoDB.
    for name in (table, f"{table}-candles"):
        try:
            client.describe_table(TableName=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            message = (
                f"DynamoDB table {name} does not exist, and DYNAMODB_CREATE_TABLES is off: "
                "the infrastructure code makes it (docs/deployment.md)."
            )
            logger.error(message)
            error = {"Code": "ResourceNotFoundException", "Message": message}
            raise ClientError({"Error": error}, "DescribeTable") from exc


def _ensure_tables(client: Any, table: str) -> None:
    for name in (table, f"{table}-candles"):
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

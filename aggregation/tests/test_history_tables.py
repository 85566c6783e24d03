"""The history's tables: made on first use where PriceHub may create them (DynamoDB Local),
an error when it may not (production, where the infrastructure code makes them)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from django.test import override_settings

from aggregation.history import client


def exists(dynamodb: Any, table: str) -> bool:
    try:
        dynamodb.describe_table(TableName=table)
    except dynamodb.exceptions.ResourceNotFoundException:
        return False
    return True


@pytest.fixture
def absent_table(services: None) -> str:
    return f"prices-absent-{uuid.uuid4().hex[:12]}"


def test_a_missing_table_is_an_error_and_never_created_when_creating_is_off(
    absent_table, dynamodb, caplog
):
    with (
        override_settings(DYNAMODB_TABLE=absent_table, PRICEHUB_DYNAMODB_CREATE_TABLES=False),
        pytest.raises(ClientError, match="DYNAMODB_CREATE_TABLES is off") as raised,
    ):
        client.ping()
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert f"DynamoDB table {absent_table} does not exist" in caplog.text
    assert not exists(dynamodb, absent_table)
    assert not exists(dynamodb, f"{absent_table}-candles")


def test_a_missing_table_is_made_on_first_use_when_creating_is_on(absent_table, dynamodb):
    with override_settings(DYNAMODB_TABLE=absent_table, PRICEHUB_DYNAMODB_CREATE_TABLES=True):
        client.ping()
    try:
        assert exists(dynamodb, absent_table)
        assert exists(dynamodb, f"{absent_table}-candles")
    finally:
        for table in (absent_table, f"{absent_table}-candles"):
            dynamodb.delete_table(TableName=table)


@pytest.mark.usefixtures("stores")
def test_tables_that_exist_serve_when_creating_is_off():
    with override_settings(PRICEHUB_DYNAMODB_CREATE_TABLES=False):
        client.ping()
        assert client.newest(client.points_table(), "BTCUSDT", 1) == []

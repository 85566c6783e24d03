"""Fixtures of the aggregation tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aggregation.history import client


@pytest.fixture
def queries() -> Iterator[list[dict[str, Any]]]:
    """The answers of the DynamoDB Queries the history makes from now on."""
    answers: list[dict[str, Any]] = []

    def keep(parsed: dict[str, Any], **kwargs: Any) -> None:
        answers.append(parsed)

    events = client.client().meta.events
    events.register("after-call.dynamodb.Query", keep)
    yield answers
    events.unregister("after-call.dynamodb.Query", keep)


@pytest.fixture
def dynamodb_calls() -> Iterator[list[str]]:
    """The names of the DynamoDB operations the history calls from now on."""
    names: list[str] = []

    def keep(model: Any, **kwargs: Any) -> None:
        names.append(model.name)

    events = client.client().meta.events
    events.register("before-call.dynamodb", keep)
    yield names
    events.unregister("before-call.dynamodb", keep)

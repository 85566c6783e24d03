from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def venue_state(services: None) -> Iterator[None]:
    """Keep circuits and venue health in the test Redis, closed and empty for every test."""
    from django.core.cache import cache

    cache.delete_pattern("*")
    yield
    cache.delete_pattern("*")

"""Paged lists: a page's size and the cursor of the next page, as every paged endpoint takes them.

A cursor is the key the next page starts after (a history point's time, an asset's symbol),
in URL-safe base64 JSON, so that clients hold it as an opaque string.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiParameter

from common.errors import ApiError

DEFAULT_PAGE = 100
MAX_PAGE = 1000

PARAMETERS = [
    OpenApiParameter("limit", int, description=f"1-{MAX_PAGE}, default {DEFAULT_PAGE}"),
    OpenApiParameter("cursor", str, description="next_cursor of the previous page"),
]


def page_limit(raw: str | None) -> int:
    """Return the page size raw asks for; raise ApiError."""
    if raw is None:
        return DEFAULT_PAGE
    # isdigit() alone admits digits such as "²" that int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiError(400, "invalid_limit", f"limit is a whole number from 1 to {MAX_PAGE}.")
    return int(raw)


def next_cursor(after: int | str) -> str:
    """Return the cursor of the page that starts after the key `after`."""
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def cursor_after(raw: str | None, *, valid: Callable[[Any], bool], detail: str) -> Any:
    """Return the key the cursor raw starts after (None for no cursor); raise ApiError with
    detail when raw is no cursor, or its key is not `valid`."""
    if raw is None:
        return None
    try:
        after = json.loads(base64.urlsafe_b64decode(raw.encode()))["after"]
    except (ValueError, TypeError, KeyError, binascii.Error, RecursionError):
        after = None
    if after is None or not valid(after):
        raise ApiError(400, "invalid_cursor", detail)
    return after

"""The API's edge answers each kind of refused read with its status and PriceHub's body."""

from __future__ import annotations

import pytest

from common.errors import api_error, error_body
from common.read_errors import InvalidRead, NoPrice, ReadError, UnknownSymbol


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidRead("invalid_method", "method is one of: vwap.", methods=["vwap"]), 400),
        (UnknownSymbol("unknown_asset", "PriceHub does not price NOPEUSDT."), 404),
        (NoPrice("no_price", "No price for AVAXUSDT is available yet."), 503),
    ],
)
def test_each_kind_of_refused_read_is_answered_with_its_status_and_body(
    error: ReadError, status: int
):
    answer = api_error(error)
    assert answer is not None
    assert answer.status_code == status
    assert error_body(answer) == {"error": error.code, "detail": error.detail, **error.extra}

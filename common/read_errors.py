"""Why a read cannot be answered, in PriceHub's words: raised by the reads (aggregation's
selectors), answered by the API's edge (common.errors.api_error), which alone knows HTTP."""

from __future__ import annotations

from typing import Any


class ReadError(Exception):
    """A read refused: a stable code (such as unknown_asset), a sentence, and what else the
    answer shows (the methods an invalid method may be)."""

    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra


class InvalidRead(ReadError):
    """The read is malformed: a symbol, a method, a batch."""


class UnknownSymbol(ReadError):
    """PriceHub does not price the asset named."""


class NoPrice(ReadError):
    """PriceHub prices the asset but has no price for it now."""

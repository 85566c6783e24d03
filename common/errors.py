"""The error every PriceHub layer raises for an answer the API gives as an error."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions


class ApiError(exceptions.APIException):
    """An error answered with PriceHub's body: {"error": code, "detail": sentence, ...extra}."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        self.status_code = status
        self.code = code
        self.extra = extra
        super().__init__(detail, code)

    def body(self) -> dict[str, Any]:
        """Return the JSON body of this error."""
        return {"error": self.code, "detail": str(self.detail), **self.extra}

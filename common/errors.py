"""PriceHub's error answers: {"error": code, "detail": sentence}, never a traceback.

The error every layer raises for an answer the API gives as an error, its schema, and the
handlers that turn any failure into that body.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import Http404, HttpRequest, JsonResponse
from drf_spectacular.utils import OpenApiResponse
from redis.exceptions import RedisError
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.read_errors import InvalidRead, NoPrice, ReadError, UnknownSymbol

logger = logging.getLogger(__name__)

# The services behind the API: an error of theirs is an outage, answered 503.
BACKEND_ERRORS = (RedisError, BotoCoreError, ClientError, DatabaseError)


def service_name(exc: Exception) -> str:
    """Return which of PriceHub's services a BACKEND_ERRORS failure came from."""
    if isinstance(exc, RedisError):
        return "Redis"
    return "The database" if isinstance(exc, DatabaseError) else "DynamoDB"


class ApiError(exceptions.APIException):
    """An error answered with PriceHub's body: {"error": code, "detail": sentence, ...extra}."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        self.status_code = status
        self.code = code
        self.extra = extra
        super().__init__(detail, code)


def unavailable() -> ApiError:
    """Return the answer to a backend outage: a 503, never a 500."""
    return ApiError(503, "unavailable", "A PriceHub backend is unavailable; try again shortly.")


class ErrorOutput(serializers.Serializer):
    error = serializers.CharField(help_text="A stable code, such as unknown_asset.")
    detail = serializers.CharField(help_text="What went wrong, as a sentence.")


_MEANINGS = {
    304: "Not modified since the ETag given in If-None-Match.",
    400: "Malformed request: invalid_asset, invalid_method, invalid_range, ...",
    404: "unknown_asset: PriceHub does not price it.",
    429: "throttled: too many requests; Retry-After says when to come back.",
    503: "no_price, no_quorum, refresh_in_progress, refresh_failed or unavailable.",
}


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """Return the OpenAPI error responses of an endpoint, all in PriceHub's error body."""
    return {
        status: OpenApiResponse(None if status == 304 else ErrorOutput, _MEANINGS[status])
        for status in statuses
    }


# The status of each kind of refused read.
_READ_STATUS: dict[type[ReadError], int] = {InvalidRead: 400, UnknownSymbol: 404, NoPrice: 503}


def api_error(exc: Exception) -> exceptions.APIException | None:
    """Return the API error exc is answered with, or None when it is not one PriceHub answers."""
    if isinstance(exc, ReadError):
        status = next(code for kind, code in _READ_STATUS.items() if isinstance(exc, kind))
        return ApiError(status, exc.code, exc.detail, **exc.extra)
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, BACKEND_ERRORS):
        logger.exception("Backend unavailable")
        return unavailable()
    return exc if isinstance(exc, exceptions.APIException) else None


def error_body(exc: exceptions.APIException) -> dict[str, Any]:
    """Return PriceHub's JSON body of an API error."""
    code = getattr(exc.detail, "code", None) or exc.default_code
    return {"error": code, "detail": str(exc.detail), **getattr(exc, "extra", {})}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Answer every error with {"error", "detail"}; a backend outage is a 503, never a 500."""
    exc = api_error(exc)
    if exc is None:
        return None
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = error_body(exc)
    return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    # Django's refusals before any view: a bad Host header, too many query fields.
    detail = "The request is malformed: its Host header or its number of fields."
    return JsonResponse({"error": "bad_request", "detail": detail}, status=400)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"error": "forbidden", "detail": "Not allowed."}, status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    detail = "The form's CSRF check failed; reload the page and try again."
    return JsonResponse({"error": "csrf_failed", "detail": detail}, status=403)


def method_not_allowed(allowed: tuple[str, ...]) -> JsonResponse:
    detail = f"Allowed: {', '.join(allowed)}."
    body = {"error": "method_not_allowed", "detail": detail}
    return JsonResponse(body, status=405, headers={"Allow": ", ".join(allowed)})


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"error": "not_found", "detail": "No such endpoint."}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"error": "internal_error", "detail": "PriceHub failed to answer; the error is logged."},
        status=500,
    )

"""The REST API: thin views over the services and selectors."""

from __future__ import annotations

from aggregation.api.errors import ApiError, exception_handler, not_found, server_error

__all__ = ["ApiError", "exception_handler", "not_found", "server_error"]

"""The fast path of the reads, in front of Django's request cycle.

GET /prices/{asset}, GET /prices?assets=, and an asset's history and candles are most of
PriceHub's traffic, and Django's middleware and DRF cost far more than the reads themselves.
This WSGI layer answers them with the same functions as the DRF views, so with the same bodies,
status codes, errors, ETag/304, Cache-Control and request metrics (tests/test_fast_reads.py
holds the two side by side). Anything else, and every read while per-client read throttling is
on, goes to Django.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import parse_etags
from django_prometheus.middleware import Metrics

from aggregation.api.history import candles_body, history_body
from aggregation.api.prices import JSON, price_headers
from aggregation.selectors import price_reading, prices_reading
from common.errors import BACKEND_ERRORS, ApiError, unavailable

logger = logging.getLogger(__name__)

Answer = tuple[int, list[tuple[str, str]], bytes]
# What a 304 keeps: the validators Django copies, and the security headers added after it.
_KEPT_BY_304 = {
    "Cache-Control",
    "ETag",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "Strict-Transport-Security",
}
# The reads served here, by the names of their views in pricehub/urls.py.
_ROUTES = [
    (re.compile(r"/prices"), "prices"),
    (re.compile(r"/prices/([^/]+)"), "price"),
    (re.compile(r"/prices/([^/]+)/history"), "history"),
    (re.compile(r"/prices/([^/]+)/candles"), "candles"),
]


class FastReads:
    """WSGI middleware: answer the price reads itself, hand everything else to app."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        answer = serve(environ)
        if answer is None:
            return self.app(environ, start_response)
        status, headers, body = answer
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]


def serve(environ: dict[str, Any]) -> Answer | None:
    """Return the answer to a read, or None when Django must answer the request."""
    if environ["REQUEST_METHOD"] != "GET" or settings.PRICEHUB_THROTTLE_READS:
        return None
    path = environ.get("PATH_INFO", "")
    route = next(((v, m) for pattern, v in _ROUTES if (m := pattern.fullmatch(path))), None)
    if route is None:
        return None
    query = _query(environ)
    secure = _secure(environ)
    if query is None or not _host_allowed(environ) or (settings.SECURE_SSL_REDIRECT and not secure):
        return None  # Django answers these: its errors, the HTTPS redirect
    started = time.perf_counter()
    view, match = route
    try:
        answer = _answer(view, match, query)
    except ApiError as exc:
        answer = (exc.status_code, [("Content-Type", JSON)], _json(exc.body()))
    except BACKEND_ERRORS:
        logger.exception("Backend unavailable")
        answer = (503, [("Content-Type", JSON)], _json(unavailable().body()))
    status, headers, body = _conditional(*answer, environ.get("HTTP_IF_NONE_MATCH"), secure)
    headers.append(("Content-Length", str(len(body))))
    _observe(view, status, len(body), time.perf_counter() - started)
    return status, headers, body


def _answer(view: str, match: re.Match[str], query: dict[str, str]) -> Answer:
    """Call the read the view names; views as in pricehub/urls.py."""
    if view == "history":
        return 200, [("Content-Type", JSON)], history_body(match[1], query)
    if view == "candles":
        return 200, [("Content-Type", JSON)], candles_body(match[1], query)
    if view == "price":
        reading = price_reading(symbol=match[1], method=query.get("method"))
    else:
        reading = prices_reading(symbols=query.get("assets", "").split(","))
    return 200, list(price_headers(reading).items()), reading.body


def _conditional(
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    if_none_match: str | None,
    secure: bool,
) -> Answer:
    """Return the answer as Django's middleware finishes it: an ETag on every answer (the
    body's digest unless the view set one), and 304 for a GET the client already holds."""
    headers += _common_headers(secure)
    etag = next((value for name, value in headers if name == "ETag"), None)
    if etag is None:
        etag = f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
        headers.append(("ETag", etag))
    if status == 200 and if_none_match and _matches(if_none_match, etag):
        return 304, [h for h in headers if h[0] in _KEPT_BY_304], b""
    return status, headers, body


def _matches(if_none_match: str, etag: str) -> bool:
    tags = parse_etags(if_none_match)
    # Weak comparison, as for any GET.
    return "*" in tags or etag.removeprefix("W/") in {tag.removeprefix("W/") for tag in tags}


def _query(environ: dict[str, Any]) -> dict[str, str] | None:
    try:
        pairs = parse_qsl(
            environ.get("QUERY_STRING", ""),
            keep_blank_values=True,
            max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
        )
    except ValueError:
        return None
    return dict(pairs)  # a repeated parameter takes its last value, as in Django


def _host_allowed(environ: dict[str, Any]) -> bool:
    domain, _port = split_domain_port(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""))
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _secure(environ: dict[str, Any]) -> bool:
    if environ.get("wsgi.url_scheme") == "https":
        return True
    header = settings.SECURE_PROXY_SSL_HEADER
    return bool(header) and environ.get(header[0]) == header[1]


@functools.cache
def _common_headers(secure: bool) -> tuple[tuple[str, str], ...]:
    """Return what Django's middleware (security, clickjacking) and DRF add to an answer."""
    headers = [
        ("Allow", "GET, HEAD, OPTIONS"),
        ("X-Frame-Options", settings.X_FRAME_OPTIONS),
    ]
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        headers.append(("Referrer-Policy", settings.SECURE_REFERRER_POLICY))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    if secure and settings.SECURE_HSTS_SECONDS:
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            hsts += "; preload"
        headers.append(("Strict-Transport-Security", hsts))
    return tuple(headers)


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _observe(view: str, status: int, size: int, seconds: float) -> None:
    """Count the request as django-prometheus counts the ones Django answers."""
    counters, body_bytes, latency = _metrics(view, str(status))
    for counter in counters:
        counter.inc()
    body_bytes.observe(size)
    latency.observe(seconds)


@functools.cache
def _metrics(view: str, status: str) -> tuple[tuple[Any, ...], Any, Any]:
    # Labelled once per view and status: .labels() costs more than the increment.
    metrics = Metrics.get_instance()
    counters = (
        metrics.requests_total,
        metrics.responses_total,
        metrics.requests_by_method.labels(method="GET"),
        metrics.requests_by_transport.labels(transport="http"),
        metrics.requests_by_view_transport_method.labels(view=view, transport="http", method="GET"),
        metrics.responses_by_status.labels(status=status),
        metrics.responses_by_status_view_method.labels(status=status, view=view, method="GET"),
        metrics.responses_by_charset.labels(charset="utf-8"),
    )
    latency = metrics.requests_latency_by_view_method.labels(view=view, method="GET")
    return counters, metrics.responses_body_bytes, latency

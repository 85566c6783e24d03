"""The reads, each implemented once, and the lean way a plain GET of one is served.

GET /prices/{asset}, GET /prices?assets= and an asset's history and candles are most of
PriceHub's traffic. Each is a ReadView whose `read` is its only implementation. DRF serves it
(`get`) to a HEAD, to a request with credentials (so a bad token is a 401, as everywhere) and
while reads are throttled. LeanReads serves a plain GET of it in front of Django's request
cycle, with Django's own parts instead of its handler's layers: the URL resolver (pricehub/urls.py
is the one route table), the request and response classes, and the hooks of each middleware of
settings.MIDDLEWARE that acts on a read, called in the order Django's chain calls them. A
middleware that READ_MIDDLEWARE does not name turns the lean path off: what a new middleware
does is never skipped.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from django.conf import settings
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import Resolver404, ResolverMatch, get_resolver
from django.utils.module_loading import import_string
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from common.errors import api_error, error_body
from common.throttling import ByNetwork

logger = logging.getLogger(__name__)

JSON = "application/json"
_NO_QUERY = QueryDict()  # immutable

# What each middleware does to a GET of a read, reviewed: "runs" (its hooks run on the lean
# path as in Django's chain) or why it has nothing to do there.
READ_MIDDLEWARE = {
    "common.metrics.RequestMetricsMiddleware": "runs",
    "django.middleware.security.SecurityMiddleware": "runs",
    "whitenoise.middleware.WhiteNoiseMiddleware": "serves files under STATIC_URL only",
    "django.contrib.sessions.middleware.SessionMiddleware": "a read never opens the session",
    "django.middleware.common.CommonMiddleware": "runs",
    "django.middleware.http.ConditionalGetMiddleware": "runs",
    "django.middleware.csrf.CsrfViewMiddleware": "a GET is never checked; reads set no token",
    "django.contrib.auth.middleware.AuthenticationMiddleware": "credentials go to DRF",
    "django.contrib.messages.middleware.MessageMiddleware": "a read adds no message",
    "django.middleware.clickjacking.XFrameOptionsMiddleware": "runs",
    "pricehub.edge.PagePolicyMiddleware": "a read answers JSON, which has no page policy",
    "axes.middleware.AxesMiddleware": "a read is never a login",
}


class ReadThrottle(ByNetwork, AnonRateThrottle):
    """Per-client read limit, when settings.PRICEHUB_THROTTLE_READS turns it on."""

    scope = "read"

    def allow_request(self, request: Request, view: APIView) -> bool:
        return not settings.PRICEHUB_THROTTLE_READS or super().allow_request(request, view)


# No docstring: the schema would take it as each read's description.
class ReadView(APIView):
    # `read` answers from the query and the URL's arguments, or raises ApiError.
    throttle_classes = [ReadThrottle]

    def read(self, query: QueryDict, **kwargs: str) -> HttpResponse:
        raise NotImplementedError

    def get(self, request: Request, **kwargs: str) -> HttpResponse:
        return self.read(request.query_params, **kwargs)


class LeanReads:
    """WSGI middleware: serve a plain GET of a read itself, hand everything else to app."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        response = serve(environ)
        if response is None:
            return self.app(environ, start_response)
        start_response(f"{response.status_code} {response.reason_phrase}", [*response.items()])
        return [response.content]


def serve(environ: dict[str, Any]) -> HttpResponse | None:
    """Return the answer to a plain GET of a read, or None when Django must answer it."""
    if (
        environ["REQUEST_METHOD"] != "GET"
        or "HTTP_AUTHORIZATION" in environ
        or settings.PRICEHUB_THROTTLE_READS
    ):
        return None
    middleware = _middleware()
    request = WSGIRequest(environ)
    match = _route(request.path_info)
    if middleware is None or match is None:
        return None
    request.resolver_match = match
    # As Django's chain: each middleware's process_request, outermost first, until one answers
    # (a redirect to HTTPS) or raises (a bad Host header); then process_view and the view;
    # then process_response back out, from the innermost middleware entered.
    entered: list[_Hooks] = []
    response = None
    for hooks in middleware:
        try:
            response = hooks.request and hooks.request(request)
        except Exception as exc:
            response = response_for_exception(request, exc)
        else:
            entered.append(hooks)
        if response is not None:
            break
    else:
        response = _view(request, match, middleware)
    for hooks in reversed(entered):
        if hooks.response:
            response = hooks.response(request, response) or response
    return response


def _view(request: HttpRequest, match: ResolverMatch, middleware: list[_Hooks]) -> HttpResponse:
    for hooks in middleware:
        if hooks.view and (answer := hooks.view(request, match.func, (), match.kwargs)):
            return answer
    try:
        return _answer(request, match)
    except Exception as exc:
        for hooks in reversed(middleware):
            if hooks.exception and (answer := hooks.exception(request, exc)):
                return answer
        return response_for_exception(request, exc)


def _answer(request: HttpRequest, match: ResolverMatch) -> HttpResponse:
    """Return the read's answer, or its error's, with the headers DRF's view adds to each."""
    view_class = match.func.view_class
    view = view_class(**match.func.view_initkwargs)
    view.setup(request, **match.kwargs)
    # Without a query string, the empty QueryDict made once: parsing "" costs a read ~4 us.
    query = request.GET if request.META.get("QUERY_STRING") else _NO_QUERY
    try:
        response = view.read(query, **match.kwargs)
    except Exception as exc:
        error = api_error(exc)
        if error is None:
            raise
        body = JSONRenderer().render(error_body(error))
        response = HttpResponse(body, status=error.status_code, content_type=JSON)
    for name, value in _view_headers(view_class).items():
        response[name] = value
    return response


@functools.cache
def _view_headers(view_class: type[ReadView]) -> dict[str, str]:
    # DRF's Allow and Vary, which depend on the view's class alone (and on setup, which lets a
    # view that answers GET answer HEAD).
    view = view_class()
    view.setup(HttpRequest())
    return view.default_response_headers


@functools.lru_cache(maxsize=4096)
def _route(path: str) -> ResolverMatch | None:
    """Return the resolver's match of path when it names a read, else None."""
    try:
        match = get_resolver().resolve(path)
    except Resolver404:
        return None
    view = getattr(match.func, "view_class", None)
    return match if isinstance(view, type) and issubclass(view, ReadView) else None


class _Hooks(NamedTuple):
    """A middleware's hooks, each None where it has none."""

    request: Callable[..., Any] | None
    view: Callable[..., Any] | None
    response: Callable[..., Any] | None
    exception: Callable[..., Any] | None


@functools.cache
def _middleware() -> list[_Hooks] | None:
    """Return the hooks of the middleware of settings.MIDDLEWARE that act on a read, outermost
    first; None when one of them is not in READ_MIDDLEWARE."""
    unknown = [path for path in settings.MIDDLEWARE if path not in READ_MIDDLEWARE]
    if unknown:
        logger.warning("Reads go through Django: %s not in READ_MIDDLEWARE", ", ".join(unknown))
        return None
    layers = [
        import_string(path)(_never_called)
        for path in settings.MIDDLEWARE
        if READ_MIDDLEWARE[path] == "runs"
    ]
    return [
        _Hooks(*(getattr(layer, f"process_{hook}", None) for hook in _Hooks._fields))
        for layer in layers
    ]


def _never_called(request: HttpRequest) -> HttpResponse:
    raise AssertionError("the lean path calls a middleware's hooks, never its chain")


@receiver(setting_changed)
def _forget(**kwargs: Any) -> None:
    # Middleware read their settings (SECURE_*, X_FRAME_OPTIONS, ...) when made.
    _middleware.cache_clear()
    _route.cache_clear()
    _view_headers.cache_clear()

"""The edge's parts that Django calls (configured in pricehub/security.py): who a client is to
the admin login's lockout (django-axes), the same network as to the throttles, and the answer
once locked out, and the pages' Content-Security-Policy (django-csp)."""

from __future__ import annotations

import ipaddress
from typing import Any

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.throttling import BaseThrottle

from common.throttling import client_network


def client_address(request: HttpRequest) -> str:
    """Return the client as the throttles know it: the network (client_network) of the address
    the outermost of NUM_PROXIES proxies saw, else of the connection's."""
    address = BaseThrottle().get_ident(request)
    try:
        ipaddress.ip_address(address)
    except ValueError:  # a proxy that wrote no address: the connection's, never the words
        address = request.META.get("REMOTE_ADDR", "")
    return client_network(address)


def locked_out(request: HttpRequest, response: Any = None, credentials: Any = None) -> JsonResponse:
    """Answer a login refused for too many failures, in PriceHub's error body."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    detail = f"Too many failed logins; try again in {seconds // 60} minutes."
    return JsonResponse(
        {"error": "locked_out", "detail": detail},
        status=429,
        headers={"Retry-After": str(seconds)},
    )


class PagePolicyMiddleware(CSPMiddleware):
    """Set the Content-Security-Policy on pages (HTML) only: it says what a page may load and
    run, which means nothing to a JSON answer, and building it costs a read ~50 us."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        return super().process_response(request, response)

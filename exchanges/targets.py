"""Where PriceHub may send its venue requests: never to a private, loopback or link-local
address unless settings.PRICEHUB_VENUE_PRIVATE_ADDRESSES allows it (the simulated venues of
development listen on loopback), so an exchange row cannot point PriceHub at an internal
service.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError


def check_base_url(url: str) -> None:
    """Raise ValidationError when url's host is, or resolves to, an address PriceHub may not
    ask; DNS answers are checked as they are now, each time this is called."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError(f"{url!r} is not an http or https URL with a host.")
    if settings.PRICEHUB_VENUE_PRIVATE_ADDRESSES:
        return
    try:
        found = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ValidationError(f"The host of {url!r} does not resolve.") from exc
    for *_, address in found:
        ip = ipaddress.ip_address(address[0])
        if not ip.is_global or ip.is_multicast:
            raise ValidationError(
                f"{url!r} points to a private, loopback or link-local address; "
                "set VENUE_PRIVATE_ADDRESSES=true to allow it."
            )

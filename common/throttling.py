"""Who a client is to PriceHub's throttles: an IPv4 client by its address, an IPv6 client by its
/64 network.

An IPv6 host is given a whole /64 and may take any address in it (privacy addresses change on
their own), so keyed by its address it would get a new quota at will. Every throttle class
takes ByNetwork first, on top of DRF's address (REMOTE_ADDR, or X-Forwarded-For by
NUM_PROXIES).
"""

from __future__ import annotations

import ipaddress

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

IPV6_PREFIX = 64


def client_network(address: str) -> str:
    """Return the key of a client address: an IPv4 address (also when IPv4-mapped) as it is
    written canonically, an IPv6 address's /64 network; anything else unchanged."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    # From its number: a zone (fe80::1%eth0) names no other network.
    return str(ipaddress.IPv6Network((int(ip), IPV6_PREFIX), strict=False))


class ByNetwork(SimpleRateThrottle):
    """A throttle that knows a client by client_network() of the address DRF finds."""

    def get_ident(self, request: Request) -> str:
        return client_network(super().get_ident(request))

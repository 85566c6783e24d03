"""Where PriceHub may send its venue requests, and the address each connection goes to.

A venue's host is resolved once, every address of the answer is checked, and
exchanges/wire.py connects to those addresses itself, the next when one refuses: a second DNS
answer (a rebinding to 127.0.0.1 or to the cloud's metadata address) never reaches a
connection. An answer is kept VENUE_RESOLVE_SECONDS, as venue calls are most of a refresh's
work.

Private, loopback and link-local addresses are refused unless VENUE_PRIVATE_ADDRESSES allows
them all or VENUE_PRIVATE_HOSTS names the host (the simulated venues), so an exchange row
cannot point PriceHub at an internal service. Under the production settings
(PRICEHUB_VENUE_HTTPS_ONLY) a venue is asked over https, or over plain http only on such an
allowed private address.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

import cachetools
from django.conf import settings
from django.core.exceptions import ValidationError

_PORTS = {"http": 80, "https": 443}


class Address(NamedTuple):
    """One address of a DNS answer, and whether it is public: neither private, loopback,
    link-local nor multicast."""

    ip: str
    public: bool


@dataclass(frozen=True)
class Target:
    """Where the connections for a venue URL go: the addresses that passed the checks, in
    the resolver's order of preference; the URL's host stays the Host header, the TLS server
    name and the certificate's name."""

    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]
    authority: str  # host[:port] as the URL writes it: the Host header


def check_base_url(url: str) -> None:
    """Raise ValidationError when PriceHub may not ask url (an Exchange row's validator)."""
    target(url)


def target(url: str) -> Target:
    """Return where a connection for url goes: the addresses its host resolves to, once every
    one of them passed; raise ValidationError when one did not."""
    parts = urlsplit(url)
    try:
        port = parts.port or _PORTS.get(parts.scheme)
    except ValueError:  # a port out of range
        port = None
    host = parts.hostname
    if parts.scheme not in _PORTS or not host or not port:
        raise ValidationError(f"{url!r} is not an http or https URL with a host.")
    addresses = resolve(host)
    named = host in settings.PRICEHUB_VENUE_PRIVATE_HOSTS
    for ip, public in addresses:
        if not public and not (named or settings.PRICEHUB_VENUE_PRIVATE_ADDRESSES):
            raise ValidationError(
                f"{url!r} points to a private, loopback or link-local address ({ip}); "
                "name its host in VENUE_PRIVATE_HOSTS to allow it.",
                code="private",
            )
        if public and parts.scheme == "http" and settings.PRICEHUB_VENUE_HTTPS_ONLY:
            raise ValidationError(
                f"{url!r} is plain http to a public address; venues are asked over https.",
                code="plain_http",
            )
    authority = parts.netloc.rpartition("@")[2]
    return Target(parts.scheme, host, port, tuple(ip for ip, _ in addresses), authority)


@cachetools.cached(
    cachetools.TTLCache(maxsize=1024, ttl=settings.PRICEHUB_VENUE_RESOLVE_SECONDS),
    lock=threading.Lock(),
)
def resolve(host: str) -> tuple[Address, ...]:
    """Return the addresses host resolves to, as the system's resolver answered within
    VENUE_RESOLVE_SECONDS (resolve.cache_clear() forgets every answer)."""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ValidationError(f"The host {host!r} does not resolve.", code="unresolved") from exc
    ips = [ipaddress.ip_address(address[0]) for *_, address in found]
    return tuple(Address(str(ip), ip.is_global and not ip.is_multicast) for ip in ips)

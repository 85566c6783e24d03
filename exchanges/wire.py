"""PriceHub's HTTP to venues: one GET within its time and size, to an address that
exchanges/targets.py checked, and what its answer says of the venue's rate limit
(exchanges/limits.py). exchanges/client.py makes the rounds of calls."""

from __future__ import annotations

import time
from collections.abc import Mapping
from http import HTTPStatus

import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.exceptions import HTTPError as TransportError
from urllib3.exceptions import TimeoutError as TransportTimeout

from exchanges import limits, targets
from exchanges.adapters import Adapter, get_adapter
from exchanges.adapters.fields import join_url
from exchanges.models import Exchange
from exchanges.quotes import ExchangeError, Listing, RateLimited, RoundOver

# urllib3 itself, not requests: a venue call is most of a refresh's work, and requests' own
# layer doubled its cost. No proxies from the environment: PriceHub goes where the exchange
# row says; and no retries or redirects: a venue's redirect is an answer like any other.
# A pool per checked address (and server name): its connections go to that address alone.
_http = urllib3.PoolManager(num_pools=64, maxsize=32, retries=False)
_USER_AGENT = "PriceHub/0.1"
# The longest wait a venue may ask for: Binance's longest ban, three days.
_LONGEST_WAIT_SECONDS = 3 * 24 * 3600


def fetch_catalogue(exchange: Exchange) -> list[Listing]:
    """Return every market the venue's catalogue lists, read within the venue's limit; raise
    ExchangeError when it cannot be had or read."""
    # A venue PriceHub may not ask is refused before the budget: it takes none of the venue's
    # calls and never waits for room (fetch checks the address again, from the cached answer).
    target(exchange.base_url)
    adapter = get_adapter(exchange.kind)
    url = join_url(exchange.base_url, adapter.catalogue_path)
    ends = time.monotonic() + settings.PRICEHUB_CATALOGUE_TIMEOUT_SECONDS
    cost, most = adapter.catalogue_cost, settings.PRICEHUB_CATALOGUE_MAX_BYTES
    # Rare and needed: a catalogue read may take the share of the budget kept for hot calls.
    if held := limits.hold(exchange.name, adapter.limit, cost, hot=True, deadline=ends):
        raise held
    try:
        status, body = fetch(exchange, adapter, url, ends - time.monotonic(), most)
        return adapter.parse_catalogue(status, body)
    except RateLimited as exc:
        limits.refused(exchange.name, exc)
        raise


def fetch(
    exchange: Exchange, adapter: Adapter, url: str, budget: float, most: int
) -> tuple[int, bytes]:
    """GET url in budget seconds, connecting and reading included; return the status and at
    most `most` bytes of body. Raise RateLimited when the venue refused the call for its limit;
    note its own count of what was used.

    Only headers sent byte by byte can outlast it (each read of them waits up to budget);
    fetch_all still returns by its deadline.
    """
    ends = time.monotonic() + budget
    to = target(url)
    try:
        response = _open(to, urllib3.util.parse_url(url).request_uri, ends)
        try:
            body = _read_by(response, ends, most)
        except BaseException:
            response.close()  # a connection left mid-answer is not used again
            raise
        response.release_conn()
    except TransportError as exc:
        # A refused connection is a timeout by descent in urllib3: unreachable.
        if isinstance(exc, TransportTimeout) and not isinstance(exc, NewConnectionError):
            message = f"timed out after {budget:.3g} s"
            if budget < exchange.timeout_seconds:
                raise RoundOver(message, reason="timeout") from exc
            raise ExchangeError(message, reason="timeout") from exc
        raise ExchangeError(f"unreachable ({type(exc).__name__})", reason="unreachable") from exc
    _heed(exchange.name, adapter, response.status, response.headers)
    return response.status, body


def _open(to: targets.Target, path: str, ends: float) -> urllib3.BaseHTTPResponse:
    """Send the GET to the target's first address that takes the connection by `ends`."""
    # The server name is the URL's host: TLS sends it and checks the certificate against it.
    names = {"server_hostname": to.host} if to.scheme == "https" else None
    headers = {"Host": to.authority, "User-Agent": _USER_AGENT}
    for number, address in enumerate(to.addresses, 1):
        left = max(ends - time.monotonic(), 0.001)
        timeout = urllib3.Timeout(
            connect=min(settings.PRICEHUB_CONNECT_TIMEOUT_SECONDS, left), read=left
        )
        pool = _http.connection_from_host(address, to.port, to.scheme, pool_kwargs=names)
        try:
            return pool.urlopen(
                "GET", path, headers=headers, timeout=timeout, preload_content=False,
                redirect=False,
            )  # fmt: skip
        except ConnectTimeoutError:  # refused or unreachable too: no connection was made
            if number == len(to.addresses) or time.monotonic() >= ends:
                raise
    raise AssertionError("a target has at least one address")


def target(url: str) -> targets.Target:
    """Return where a connection for url goes (exchanges/targets.py); raise ExchangeError
    when PriceHub may not ask it."""
    try:
        return targets.target(url)
    except ValidationError as exc:
        said = "unreachable" if exc.code == "unresolved" else "refused"
        raise ExchangeError(f"{said}: {exc.messages[0]}", reason="unreachable") from exc


def _heed(name: str, adapter: Adapter, status: int, headers: Mapping[str, str]) -> None:
    """Read what an answer says of the venue's limit: its count of what this address used,
    or a refusal (HTTP 429, or a ban: 418, or the venue's own status) with the wait it asks
    for."""
    used = headers.get(adapter.used_header, "") if adapter.used_header else ""
    if used.isdigit():
        limits.used(name, adapter.limit, int(used))
    banned = status in adapter.ban_statuses
    if banned or status == HTTPStatus.TOO_MANY_REQUESTS:
        told = headers.get("Retry-After", "")
        documented = adapter.banned_seconds if banned else adapter.refused_seconds
        wait = min(int(told), _LONGEST_WAIT_SECONDS) if told.isdigit() else documented
        said = "banned the address" if banned else "refused the call for its rate limit"
        raise RateLimited(f"{adapter.kind} {said} (HTTP {status}) for {wait:g} s", wait=wait)


def _read_by(response: urllib3.BaseHTTPResponse, ends: float, limit: int) -> bytes:
    """Read the body by `ends` (a monotonic time), however slowly it trickles in."""
    body = bytearray()
    while True:
        left = ends - time.monotonic()
        if left <= 0:
            raise TransportTimeout("body not read by the deadline")
        # The read timeout bounds each read alone: give each one only the time left. The
        # connection is asked anew each time, as it leaves the response once the body ends.
        sock = getattr(response.connection, "sock", None)
        if sock is not None:
            sock.settimeout(left)
        chunk = response.read1(64 * 1024)
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > limit:
            raise ExchangeError(f"response larger than {limit} bytes")

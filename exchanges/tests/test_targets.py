"""Venue connections go to the address that was checked, over real HTTP and TLS on loopback;
the host names resolve through a resolver each test controls."""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import trustme
import urllib3
from django.core.exceptions import ValidationError

from exchanges import targets, wire
from exchanges.adapters import get_adapter
from exchanges.client import fetch_quote
from exchanges.models import Exchange
from exchanges.quotes import ExchangeError
from exchanges.tests.servers import QuietHandler, serving

PUBLIC = "93.184.215.14"
BTC = {"symbol": "BTCUSDT", "base": "BTC", "quote": "USDT"}
_real_getaddrinfo = socket.getaddrinfo


def recorder(hosts: list[str]) -> type[QuietHandler]:
    """A handler that answers every GET with {}, noting in hosts the Host header it came with."""

    class Recorder(QuietHandler):
        def do_GET(self) -> None:
            hosts.append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    return Recorder


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture
def internal() -> Iterator[tuple[int, list[str]]]:
    """An internal service on loopback; yield its port and the Host header of each request
    made to it."""
    hosts: list[str] = []
    with serving(recorder(hosts)) as url:
        yield port_of(url), hosts


def addrinfo(address: str, port: int | None) -> tuple:
    """Return one entry of socket.getaddrinfo's answer."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., list[list[str]]]]:
    """Answer DNS for a host with each of the given answers in turn, the last one from then
    on; return the host's answers handed out so far."""

    def answer(host: str, *answers: list[str]) -> list[list[str]]:
        given: list[list[str]] = []

        def getaddrinfo(name, port, *args, **kwargs):
            if name != host:
                return _real_getaddrinfo(name, port, *args, **kwargs)
            given.append(addresses := answers[min(len(given), len(answers) - 1)])
            return [addrinfo(address, port) for address in addresses]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        return given

    targets.resolve.cache_clear()
    yield answer
    targets.resolve.cache_clear()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Note where each venue connection goes; refuse those to public addresses, so no test
    sends a packet off this machine."""
    made: list[tuple[str, int]] = []
    connect = urllib3.util.connection.create_connection

    def noting(address: tuple[str, int], *args, **kwargs) -> socket.socket:
        made.append(address)
        if address[0] == PUBLIC:
            raise ConnectionRefusedError("a public address, not asked from the tests")
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", noting)
    return made


@pytest.fixture
def production(settings) -> None:
    """The production settings' venue rules, before any host is allowed a private address."""
    settings.PRICEHUB_VENUE_PRIVATE_ADDRESSES = False
    settings.PRICEHUB_VENUE_PRIVATE_HOSTS = []
    settings.PRICEHUB_VENUE_HTTPS_ONLY = True


def binance(base_url: str) -> Exchange:
    return Exchange(name="binance", kind="binance", base_url=base_url, timeout_seconds=1)


def get(url: str) -> tuple[int, bytes]:
    return wire.fetch(binance(url), get_adapter("binance"), url, 1.0, 1024)


def test_a_second_dns_answer_never_reaches_a_connection(settings, resolver, connections, internal):
    settings.PRICEHUB_VENUE_PRIVATE_ADDRESSES = False
    port, asked = internal
    # Public for the check, then the internal service's loopback address for the connection.
    resolver("rebinding.example", [PUBLIC], ["127.0.0.1"])
    with pytest.raises(ExchangeError, match="unreachable") as refused:
        fetch_quote(binance(f"http://rebinding.example:{port}"), **BTC)
    assert refused.value.reason == "unreachable"
    assert (connections, asked) == ([(PUBLIC, port)], [])


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("other", ["127.0.0.1", "169.254.169.254", "10.0.0.7", "::1"])
def test_it_refuses_a_host_when_any_of_its_addresses_is_internal(resolver, connections, other):
    resolver("mixed.example", [PUBLIC, other])
    with pytest.raises(ExchangeError, match=re.escape(f"link-local address ({other})")):
        fetch_quote(binance("https://mixed.example"), **BTC)
    assert connections == []


def test_it_resolves_a_host_once_while_its_answer_is_kept(resolver):
    given = resolver("kept.example", ["127.0.0.1"], ["127.0.0.2"])
    first, again = targets.target("http://kept.example:81"), targets.target("https://kept.example")
    assert [(first.addresses, first.port), (again.addresses, again.port)] == [
        (("127.0.0.1",), 81),
        (("127.0.0.1",), 443),
    ]
    assert given == [["127.0.0.1"]]


def test_an_address_that_refuses_the_connection_hands_over_to_the_next_checked_one(
    resolver, connections, internal
):
    port, asked = internal
    resolver("two.example", [PUBLIC, "127.0.0.1"])  # the public one refuses (connections)
    assert get(f"http://two.example:{port}/api/v3/ping") == (200, b"{}")
    assert (connections, asked) == ([(PUBLIC, port), ("127.0.0.1", port)], [f"two.example:{port}"])


def test_a_host_whose_every_address_refuses_is_unreachable(resolver, connections):
    resolver("none.example", [PUBLIC, PUBLIC])
    with pytest.raises(ExchangeError, match="unreachable") as refused:
        get("http://none.example:81/api/v3/ping")
    assert refused.value.reason == "unreachable"
    assert connections == [(PUBLIC, 81), (PUBLIC, 81)]


@pytest.mark.usefixtures("production")
def test_a_named_host_may_be_on_loopback_and_keeps_its_name_in_the_host_header(
    settings, resolver, connections, internal
):
    port, asked = internal
    resolver("binance", ["127.0.0.1"])
    settings.PRICEHUB_VENUE_PRIVATE_HOSTS = ["binance"]
    assert get(f"http://binance:{port}/api/v3/ping") == (200, b"{}")
    assert (connections, asked) == ([("127.0.0.1", port)], [f"binance:{port}"])


@pytest.mark.usefixtures("production")
def test_a_simulated_venue_on_loopback_is_asked_once_its_host_is_named(settings, venues):
    settings.PRICEHUB_VENUE_PRIVATE_HOSTS = ["127.0.0.1"]
    quote = fetch_quote(binance(venues["binance"]), **BTC)
    assert (quote.exchange, quote.symbol) == ("binance", "BTCUSDT")


@pytest.mark.usefixtures("production")
def test_a_simulated_venue_on_loopback_is_refused_unless_allowed(venues):
    with pytest.raises(ExchangeError, match=r"refused: .* points to a private") as refused:
        fetch_quote(binance(venues["binance"]), **BTC)
    assert refused.value.reason == "unreachable"


@pytest.mark.usefixtures("production")
def test_it_asks_a_public_address_over_https_only(resolver, connections):
    resolver("plain.example", [PUBLIC])
    with pytest.raises(ExchangeError, match="plain http to a public address"):
        fetch_quote(binance("http://plain.example"), **BTC)
    with pytest.raises(ExchangeError, match="unreachable"):  # asked, and the test refused it
        fetch_quote(binance("https://plain.example"), **BTC)
    assert connections == [(PUBLIC, 443)]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://93.184.215.14", "is plain http to a public address"),
        ("http://10.0.0.7:8081", "points to a private, loopback or link-local address"),
        ("http://127.0.0.1:99999", "is not an http or https URL with a host"),
    ],
)
@pytest.mark.usefixtures("production")
def test_the_exchange_row_says_why_it_refuses_a_base_url(url, message):
    with pytest.raises(ValidationError, match=message):
        targets.check_base_url(url)


@contextmanager
def serving_tls(certificate: trustme.LeafCert) -> Iterator[tuple[int, list[str]]]:
    """Serve over TLS with certificate on loopback; yield the port and the server names the
    clients sent."""
    names: list[str] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    context.sni_callback = lambda _socket, name, _context: names.append(name)
    with serving(recorder([]), tls=context) as url:
        yield port_of(url), names


@pytest.fixture
def authority(monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """A certificate authority that venue connections trust."""
    ca = trustme.CA()
    monkeypatch.setitem(wire._http.connection_pool_kw, "ca_cert_data", ca.cert_pem.bytes().decode())
    return ca


@pytest.mark.usefixtures("production")
def test_tls_sends_and_checks_the_venue_s_name_not_the_address(settings, resolver, authority):
    resolver("venue.example", ["127.0.0.1"])
    settings.PRICEHUB_VENUE_PRIVATE_HOSTS = ["venue.example"]
    with serving_tls(authority.issue_cert("venue.example")) as (port, names):
        assert get(f"https://venue.example:{port}/api/v3/ping") == (200, b"{}")
    assert names == ["venue.example"]


@pytest.mark.usefixtures("production")
def test_tls_refuses_a_certificate_for_another_name(settings, resolver, authority):
    resolver("venue.example", ["127.0.0.1"])
    settings.PRICEHUB_VENUE_PRIVATE_HOSTS = ["venue.example"]
    with (
        serving_tls(authority.issue_cert("other.example")) as (port, _),
        pytest.raises(ExchangeError, match=r"unreachable \(SSLError\)"),
    ):
        get(f"https://venue.example:{port}/api/v3/ping")

"""Who a client is to the throttles: an IPv4 client its address, an IPv6 client its /64."""

from __future__ import annotations

import importlib

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework.throttling import BaseThrottle

from aggregation.api.prices import RefreshAnonThrottle, RefreshTokenThrottle
from aggregation.api.reads import ReadThrottle
from common.throttling import ByNetwork, client_network

OURS = ("pricehub", "aggregation", "exchanges", "common")


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:0DB8:0001:0002:ffff:0000:0000:0009", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::9", "2001:db8:1:2::/64"),
        ("2001:db8::1", "2001:db8::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("::ffff:cb00:7107", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::/64"),
        ("not an address", "not an address"),
    ],
)
def test_it_keys_an_ipv4_client_by_its_address_and_an_ipv6_client_by_its_64(address, key):
    assert client_network(address) == key


def request(remote: str, forwarded: str | None = None) -> Request:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return Request(APIRequestFactory().post("/refresh/BTCUSDT", **extra))


@pytest.mark.parametrize("throttle", [RefreshAnonThrottle, RefreshTokenThrottle, ReadThrottle])
def test_behind_one_proxy_it_keys_the_address_the_proxy_appended(settings, throttle):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    idents = [
        throttle().get_ident(request("10.0.0.2", forwarded))
        for forwarded in (
            "203.0.113.7, 2001:db8:1:2::9",  # the client wrote the first one
            "2001:db8:1:2:abcd::5",
            "198.51.100.4",
            "::ffff:198.51.100.4",
        )
    ]
    assert idents == ["2001:db8:1:2::/64", "2001:db8:1:2::/64", "198.51.100.4", "198.51.100.4"]


def test_without_a_proxy_it_keys_the_connection_s_address():
    ident = RefreshAnonThrottle().get_ident(request("2001:db8:1:2::9", "203.0.113.7"))
    assert ident == "2001:db8:1:2::/64"


def test_every_throttle_of_pricehub_knows_a_client_by_its_network():
    importlib.import_module("pricehub.urls")  # every view, and so every throttle, loaded
    throttles, found = [BaseThrottle], []
    while throttles:
        throttle = throttles.pop()
        throttles += throttle.__subclasses__()
        if throttle.__module__.split(".")[0] in OURS and throttle is not ByNetwork:
            found.append(throttle)
    assert found
    assert [t.__name__ for t in found if not issubclass(t, ByNetwork)] == []

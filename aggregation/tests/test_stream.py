"""GET /stream: Server-Sent Events of the prices published, from the real Redis channel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient

from aggregation.api.stream import Pending
from aggregation.services import price_refresh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stores", "venue_rows")]


def events(body: bytes) -> list[dict[str, Any]]:
    """Parse SSE text into its events: each a dict of its fields, data as JSON."""
    found = []
    for block in body.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            found.append(fields | {"data": json.loads(fields["data"])})
    return found


async def read(chunks: AsyncIterator[bytes], count: int) -> list[dict[str, Any]]:
    """Read the stream until it has given count events (10 s at most)."""
    body = b""
    while len(events(body)) < count:
        body += await asyncio.wait_for(anext(chunks), 10)
    return events(body)


def test_a_stream_sends_the_current_price_then_every_publish(api):
    first = price_refresh(symbol="ETHUSDT")

    async def scenario() -> list[dict[str, Any]]:
        response = await AsyncClient().get("/stream", {"assets": "ethusdt,BTCUSDT"})
        assert response["Content-Type"] == "text/event-stream"
        chunks = aiter(response.streaming_content)
        now = await read(chunks, 1)
        await sync_to_async(price_refresh)(symbol="ETHUSDT")
        return now + (await read(chunks, 1))

    current, published = async_to_sync(scenario)()
    latest = api.get("/prices/ETHUSDT").json()
    assert current["event"] == published["event"] == "price"
    assert current["data"]["price"] == float(first.price)
    assert int(current["id"]) < int(published["id"])
    assert published["data"]["price"] == latest["price"]
    assert published["data"]["last_updated"] == latest["last_updated"]
    assert set(published["data"]) == set(latest)


def test_a_reconnection_gets_only_the_prices_newer_than_its_last_event(settings):
    settings.PRICEHUB_STREAM_HEARTBEAT_SECONDS = 0.2
    price_refresh(symbol="ETHUSDT")

    async def scenario() -> tuple[bytes, list[dict[str, Any]]]:
        first = await AsyncClient().get("/stream", {"assets": "ETHUSDT"})
        [current] = await read(aiter(first.streaming_content), 1)
        again = await AsyncClient().get(
            "/stream", {"assets": "ETHUSDT"}, headers={"Last-Event-ID": current["id"]}
        )
        chunks = aiter(again.streaming_content)
        quiet = await anext(chunks) + await anext(chunks)  # retry, then a heartbeat
        await sync_to_async(price_refresh)(symbol="ETHUSDT")
        return quiet, await read(chunks, 1)

    quiet, [newer] = async_to_sync(scenario)()
    assert quiet == b"retry: 1000\n\n: heartbeat\n\n"
    assert newer["event"] == "price"


def test_a_heartbeat_goes_only_to_a_stream_that_sent_nothing_since_the_last_one():
    async def scenario() -> list[bytes]:
        pending, sent = Pending(), []
        pending.beat()  # nothing sent yet
        sent.append(await pending.get())
        pending.put("BTCUSDT", b"price")
        sent.append(await pending.get())
        pending.beat()  # a price went since the last beat: none
        pending.put("ETHUSDT", b"price 2")
        sent.append(await pending.get())
        pending.beat()  # a price went since the last beat, again: none
        pending.beat()  # nothing since the last: a heartbeat
        sent.append(await pending.get())
        with pytest.raises(TimeoutError):  # and nothing else
            await asyncio.wait_for(pending.get(), 0.05)
        return sent

    assert asyncio.run(scenario()) == [
        b": heartbeat\n\n",
        b"price",
        b"price 2",
        b": heartbeat\n\n",
    ]


@pytest.mark.parametrize(
    ("assets", "status", "error"),
    [
        ("", 400, "invalid_request"),
        (",".join(f"A{n:03d}USDT" for n in range(51)), 400, "too_many_assets"),
        ("BTCUSDT,bad!", 400, "invalid_asset"),
        ("BTCUSDT,NOPEUSDT", 404, "unknown_asset"),
    ],
)
def test_a_stream_is_refused_as_a_batch_would_be(assets, status, error):
    response = async_to_sync(AsyncClient().get)("/stream", {"assets": assets})
    assert (response.status_code, response.json()["error"]) == (status, error)


def test_the_wsgi_server_leaves_streams_to_the_stream_server(client):
    response = client.get("/stream?assets=BTCUSDT")
    assert (response.status_code, response.json()["error"]) == (404, "not_found")
    assert "stream server" in response.json()["detail"]


def stream_headers(origin: str) -> dict[str, str]:
    """Return the headers of a stream asked for by a page of origin."""
    response = async_to_sync(AsyncClient().get)(
        "/stream", {"assets": "BTCUSDT"}, headers={"Origin": origin}
    )
    assert response.status_code == 200
    return dict(response.headers)


def test_a_stream_echoes_an_allowed_origin(settings):
    settings.PRICEHUB_STREAM_ALLOWED_ORIGINS = ["https://a.example", "https://prices.example"]
    headers = stream_headers("https://prices.example")
    assert headers["Access-Control-Allow-Origin"] == "https://prices.example"
    assert headers["Vary"] == "Origin"


def test_a_stream_allows_no_other_origin(settings):
    settings.PRICEHUB_STREAM_ALLOWED_ORIGINS = ["https://prices.example"]
    headers = stream_headers("https://evil.example")
    assert "Access-Control-Allow-Origin" not in headers
    assert headers["Vary"] == "Origin"


def test_a_stream_allows_no_origin_by_default():
    assert "Access-Control-Allow-Origin" not in stream_headers("https://prices.example")

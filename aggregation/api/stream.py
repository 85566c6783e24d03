"""GET /stream?assets=BTCUSDT,ETHUSDT: Server-Sent Events of every price published.

Served by the stream server, an ASGI process of its own (make run: Granian on port 8090, behind
the front that routes /stream there), so subscribers never hold the threads that serve
ordinary reads; the WSGI web server refuses it. Each refresh announces its prices on one
Redis channel (price_cache.publish); each stream process listens to it once and hands every
price, rendered once, to the streams that named its asset. An event is the document
GET /prices/{asset} answers, with its aggregation time (epoch ms) as its id: a client that
reconnects with Last-Event-ID gets at once the current prices newer than that, a new one all
of them. A stream keeps only the newest price of each asset not sent yet, so a slow reader
skips prices rather than holds a growing queue. Every STREAM_HEARTBEAT_SECONDS, a stream that
sent nothing since the last beat is sent a comment line, so that proxies keep it open. The
front limits the streams of each client and in all (deploy/nginx.conf.template).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from aggregation import codec, scheduling, selectors
from common import redis_store
from common.errors import BACKEND_ERRORS, api_error, error_body
from common.read_errors import ReadError

logger = logging.getLogger(__name__)
T = TypeVar("T")

_RECONNECT_SECONDS = (0.5, 5.0)  # the first and the longest pause before listening again
_HEARTBEAT = b": heartbeat\n\n"


class Pending:
    """A stream's events not sent yet: the newest of each asset, the asset waiting longest first."""

    def __init__(self) -> None:
        self._events: dict[str, bytes] = {}
        self._ready = asyncio.Event()
        self._sent = False  # since the last heartbeat

    def put(self, symbol: str, event: bytes) -> None:
        """Keep event as the next of symbol's, in place of one not sent yet."""
        self._events[symbol] = event  # a replaced event keeps its asset's place in line
        self._ready.set()

    def beat(self) -> None:
        """Send a heartbeat if nothing was sent since the last one."""
        if not self._sent:
            self.put("", _HEARTBEAT)
        self._sent = False

    async def get(self) -> bytes:
        """Return the next event to send, once there is one."""
        while not self._events:
            self._ready.clear()
            await self._ready.wait()
        self._sent = True
        return self._events.pop(next(iter(self._events)))


class _Hub:
    """This event loop's one subscription to the stream channel, the streams it feeds and their
    heartbeat: one timer for all of them (a timer for each stream, made and cancelled for every
    event, cost about 30 % of the stream server's CPU with 1,000 streams)."""

    def __init__(self) -> None:
        self.streams: dict[str, set[Pending]] = {}
        self.pending: set[Pending] = set()
        self.tasks: list[asyncio.Task[None]] = []

    def join(self, symbols: list[str], pending: Pending) -> None:
        for symbol in symbols:
            self.streams.setdefault(symbol, set()).add(pending)
        self.pending.add(pending)
        if not self.tasks or any(task.done() for task in self.tasks):
            for task in self.tasks:
                task.cancel()
            loop = asyncio.get_running_loop()
            self.tasks = [loop.create_task(self._listen()), loop.create_task(self._beat())]

    def leave(self, symbols: list[str], pending: Pending) -> None:
        for symbol in symbols:
            streams = self.streams.get(symbol, set())
            streams.discard(pending)
            if not streams:
                self.streams.pop(symbol, None)
        self.pending.discard(pending)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(settings.PRICEHUB_STREAM_HEARTBEAT_SECONDS)
            for pending in self.pending:
                pending.beat()

    async def _listen(self) -> None:
        pause = _RECONNECT_SECONDS[0]
        while True:
            try:
                await self._relay()
            except (*redis_store.UNAVAILABLE, OSError) as exc:
                logger.warning("Stream channel lost (%s); listening again in %g s", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, _RECONNECT_SECONDS[1])

    async def _relay(self) -> None:
        async for message in redis_store.announcements():
            try:
                published = codec.decode_published(message)
            except codec.Undecodable as exc:  # announced by another version
                logger.warning("Stream skipped a price it cannot read: %s", exc)
                continue
            streams = self.streams.get(published.asset)
            if not streams:
                continue
            try:
                reading = await _in_thread(selectors.published_reading)(published)
            except ReadError as exc:  # a read it needed failed: this price is skipped
                logger.warning("Stream of %s skipped a price: %s", published.asset, exc)
                continue
            event = _event(reading)
            for pending in streams:
                pending.put(published.asset, event)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Hub] = weakref.WeakKeyDictionary()


def _hub() -> _Hub:
    return _hubs.setdefault(asyncio.get_running_loop(), _Hub())


def stream(request: HttpRequest) -> HttpResponse:
    """Answer the stream (ASGI); the WSGI server refuses it: the front never sends it there."""
    if not isinstance(request, ASGIRequest):
        detail = "GET /stream is answered by the stream server, behind PriceHub's front."
        return JsonResponse({"error": "not_found", "detail": detail}, status=404)
    return _asgi_stream(request)


def _asgi_stream(request: HttpRequest) -> HttpResponse:
    # Validated before the response starts, so a bad request gets its JSON error.
    try:
        symbols = selectors.stream_assets(request.GET.get("assets", "").split(","))
    except ReadError as exc:
        error = api_error(exc)
        return JsonResponse(error_body(error), status=error.status_code)
    scheduling.count_requests(symbols)
    last = request.headers.get("Last-Event-ID", "")
    since = int(last) if last.isascii() and last.isdigit() else None
    headers = {
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",  # no proxy may hold events back
        **_cors(request.headers.get("Origin", "")),
    }
    return StreamingHttpResponse(
        _events(symbols, since), content_type="text/event-stream", headers=headers
    )


def _cors(origin: str) -> dict[str, str]:
    # The dashboard is on PriceHub's own origin and needs none; pages of the origins allowed
    # may read the stream too.
    allowed = settings.PRICEHUB_STREAM_ALLOWED_ORIGINS
    if not allowed:
        return {}
    vary = {"Vary": "Origin"}  # the answer depends on the Origin: no cache may share it
    return {**vary, "Access-Control-Allow-Origin": origin} if origin in allowed else vary


async def _events(symbols: list[str], since: int | None) -> AsyncIterator[bytes]:
    pending = Pending()
    hub = _hub()
    hub.join(symbols, pending)  # before the current prices are read, so no publish falls between
    try:
        yield b"retry: 1000\n\n"
        for symbol in symbols:
            reading = await _in_thread(_current)(symbol)
            if reading is not None and (since is None or reading.version[2] > since):
                yield _event(reading)
        while True:
            yield await pending.get()
    finally:
        hub.leave(symbols, pending)


def _current(symbol: str) -> selectors.Reading | None:
    # The asset's current price, if it has one.
    try:
        reading = selectors.price_reading(symbol=symbol)
    except ReadError:
        return None  # none yet (or no longer enabled): its first publish will come as usual
    except BACKEND_ERRORS as exc:
        logger.warning("Stream of %s starts without its current price: %s", symbol, exc)
        return None
    return reading


def _in_thread(function: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    # Any pool thread, not the one thread Django keeps for thread-sensitive code: a thousand
    # streams starting at once would queue every price behind their first reads there.
    return sync_to_async(function, thread_sensitive=False)


def _event(reading: selectors.Reading) -> bytes:
    # Its id is the price's aggregation time, in epoch ms.
    return b"event: price\nid: %d\ndata: %s\n\n" % (reading.version[2], reading.body)

"""The one place PriceHub talks HTTP to venues: a shared session, timeouts, a size cap."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from exchanges.adapters import get_adapter
from exchanges.models import Exchange
from exchanges.quotes import ExchangeError, Quote

# A ticker is a few hundred bytes; anything far larger is not a ticker.
MAX_RESPONSE_BYTES = 256 * 1024

_session = requests.Session()
_session.mount("http://", HTTPAdapter(pool_maxsize=32))
_session.mount("https://", HTTPAdapter(pool_maxsize=32))
_session.headers["User-Agent"] = "PriceHub/0.1"
_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="venue")


def fetch_quote(exchange: Exchange, *, symbol: str, base: str, quote: str) -> Quote:
    """Ask one venue for its ticker of base/quote; raise ExchangeError for anything unusable."""
    adapter = get_adapter(exchange.kind)
    url = adapter.ticker_url(exchange.base_url, base, quote)
    timeout = (settings.PRICEHUB_CONNECT_TIMEOUT_SECONDS, exchange.timeout_seconds)
    try:
        with _session.get(url, timeout=timeout, stream=True) as response:
            body = _read_capped(response)
            status = response.status_code
    except requests.Timeout as exc:
        message = f"timed out after {exchange.timeout_seconds:g} s"
        raise ExchangeError(message, reason="timeout") from exc
    except requests.RequestException as exc:
        raise ExchangeError(f"unreachable ({type(exc).__name__})", reason="unreachable") from exc
    return adapter.parse(
        status, body, exchange=exchange.name, symbol=symbol, received_at=datetime.now(UTC)
    )


def fetch_quotes(
    exchanges: Sequence[Exchange], *, symbol: str, base: str, quote: str
) -> list[Quote | ExchangeError]:
    """Ask every venue at once; return each one's quote or error, in the order given."""
    futures = [
        _pool.submit(_quote_or_error, exchange, symbol=symbol, base=base, quote=quote)
        for exchange in exchanges
    ]
    return [future.result() for future in futures]


def _quote_or_error(exchange: Exchange, **kwargs: str) -> Quote | ExchangeError:
    try:
        return fetch_quote(exchange, **kwargs)
    except ExchangeError as exc:
        return exc


def _read_capped(response: requests.Response) -> bytes:
    body = b""
    for chunk in response.iter_content(chunk_size=16 * 1024):
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise ExchangeError(f"response larger than {MAX_RESPONSE_BYTES} bytes")
    return body

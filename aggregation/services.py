"""The refresh: fetch every venue, aggregate, keep the latest in Redis, append to history."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Context

from aggregation import history, price_cache
from aggregation.methods import METHODS
from aggregation.models import Asset
from aggregation.price import AggregatedPrice, Source, whole_ms
from exchanges.client import fetch_quotes
from exchanges.models import Exchange
from exchanges.quotes import ExchangeError, Quote

DEFAULT_METHOD = "vwap"
# Twelve significant digits: finer than any venue's tick, and exact as a JSON number.
_PRICE_CONTEXT = Context(prec=12)


class NoQuorum(Exception):
    """Too few venues gave a usable quote to publish a price."""

    def __init__(self, symbol: str, sources: list[Source]) -> None:
        self.symbol = symbol
        self.sources = sources
        reasons = "; ".join(f"{s.exchange}: {s.reason}" for s in sources) or "no venue enabled"
        super().__init__(f"No venue gave a usable quote for {symbol} ({reasons}).")


def price_refresh(*, symbol: str) -> AggregatedPrice:
    """Fetch, aggregate, cache and store the price of one enabled asset; return it."""
    asset = Asset.objects.get(symbol=symbol, enabled=True)
    exchanges = list(Exchange.objects.filter(enabled=True))
    results = fetch_quotes(exchanges, symbol=asset.symbol, base=asset.base, quote=asset.quote)
    sources = [
        _source(exchange.name, result) for exchange, result in zip(exchanges, results, strict=True)
    ]
    quotes = [result for result in results if isinstance(result, Quote)]
    if not quotes:
        raise NoQuorum(asset.symbol, sources)
    price = AggregatedPrice(
        asset=asset.symbol,
        price=_PRICE_CONTEXT.plus(METHODS[DEFAULT_METHOD](quotes)),
        method=DEFAULT_METHOD,
        last_updated=whole_ms(max(quote.timestamp for quote in quotes)),
        aggregated_at=whole_ms(datetime.now(UTC)),
        sources=tuple(sources),
    )
    price_cache.store(price)
    history.append(price)
    return price


def _source(exchange: str, result: Quote | ExchangeError) -> Source:
    if isinstance(result, ExchangeError):
        return Source(exchange=exchange, status="excluded", reason=str(result))
    return Source(exchange=exchange, status="used", price=result.price, volume=result.volume)

"""The quotes of a refresh: which market of which venue to ask for each asset, the answers in
the asset's currency, and a venue's last good quote where its answer failed.

Every venue is asked once for every asset of a refresh, in as few calls as it allows
(exchanges/client.py); aggregation.services aggregates what this collects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from django.conf import settings

from aggregation import conversion, price_cache
from aggregation.aggregate import Origin, Results
from aggregation.models import Asset
from aggregation.price import Source
from exchanges import catalogue
from exchanges.client import fetch_all
from exchanges.models import Exchange, Market
from exchanges.quotes import ExchangeError, Pair, Quote, UnknownPair


def quotes_collect(
    assets: Sequence[Asset], exchanges: Sequence[Exchange], *, deadline: float, hot: bool = False
) -> tuple[datetime, dict[str, Results]]:
    """Ask every venue for every asset; return the time and, per asset, each market's dated
    quote or error in the asset's currency, venue by venue in the order of exchanges.

    A venue whose catalogue is known is asked for the markets it lists of the asset's base in
    the asset's currency, or in another one PriceHub has a fresh rate of (conversion.py), by
    its own names; never for a halted or delisted market, or one whose rate is stale (their
    errors say why). A venue whose catalogue is not known is asked for the pair by its usual
    name. A quote without the venue's own time is dated when PriceHub first saw it
    unchanged, so a venue stuck on one answer goes stale like any other.
    """
    listed = catalogue.listed(exchanges, {asset.base for asset in assets})
    started = datetime.now(UTC)
    rates = _rates(assets, listed)
    asks: list[tuple[Exchange, list[Pair]]] = []
    wanted: dict[str, list[tuple[Origin, str | ExchangeError]]] = {a.symbol: [] for a in assets}
    for exchange in exchanges:
        pairs: dict[str, Pair] = {}
        for asset in assets:
            for origin, ask in _asks(exchange.name, asset, listed[exchange.name], rates, started):
                if isinstance(ask, Pair):
                    pairs[ask.symbol] = ask
                    wanted[asset.symbol].append((origin, ask.symbol))
                else:
                    wanted[asset.symbol].append((origin, ask))
        asks.append((exchange, list(pairs.values())))
    found = fetch_all(asks, deadline=deadline, hot=hot)
    now = datetime.now(UTC)
    undated = [
        result
        for answers in found.values()
        for result in answers.values()
        if isinstance(result, Quote) and result.timestamp is None
    ]
    dated = {
        (quote.exchange, quote.symbol): replace(quote, timestamp=since)
        for quote, since in zip(undated, price_cache.unchanged_since(undated, now), strict=True)
    }

    def answer(origin: Origin, ask: str | ExchangeError) -> Quote | ExchangeError:
        if isinstance(ask, ExchangeError):
            return ask
        return _converted(dated.get((origin.exchange, ask), found[origin.exchange][ask]), origin)

    named = {
        symbol: [(origin, answer(origin, ask)) for origin, ask in entries]
        for symbol, entries in wanted.items()
    }
    return now, _with_last_good(assets, named, now), rates


def at_rates(
    asset: Asset, results: Results, rates: Mapping[str, conversion.Rate], now: datetime
) -> Results:
    """Return the asset's results with each new converted quote at `rates`, or excluded when a
    rate it needs is no longer usable (conversion.convert); a kept quote stays as published."""
    max_age = timedelta(seconds=settings.PRICEHUB_RATE_MAX_AGE_SECONDS)
    found: list[tuple[Origin, Quote | ExchangeError]] = []
    for origin, result in results:
        if origin.rate is None or not isinstance(result, Quote) or result.kept_for is not None:
            found.append((origin, result))
            continue
        rate = conversion.convert(origin.quote, asset.quote, rates, now=now, max_age=max_age)
        if isinstance(rate, conversion.Unconvertible):
            found.append((origin, ExchangeError(rate.detail, reason="no_conversion")))
            continue
        again = replace(origin, rate=rate.rate / origin.rate)  # from the old rate to the new
        found.append(
            (replace(origin, rate=rate.rate, rate_age=rate.age), _converted(result, again))
        )
    return found


def _rates(
    assets: Sequence[Asset], listed: dict[str, dict[str, list[Market]] | None]
) -> dict[str, conversion.Rate]:
    """Return the rates the assets' markets need: each currency's latest price in USD, and
    when a refresh of it failed since."""
    currencies = settings.PRICEHUB_RATE_CURRENCIES
    codes = {
        code
        for asset in assets
        for markets in listed.values()
        for market in (markets or {}).get(asset.base, [])
        if market.quote != asset.quote
        and conversion.usable(asset.base, market.quote, asset.quote, currencies)
        for code in (market.quote, asset.quote)
        if code != "USD"
    }
    if not codes:
        return {}
    symbols = {conversion.rate_asset(code): code for code in codes}
    return {
        symbols[symbol]: conversion.Rate(price.price, price.aggregated_at, failed_at)
        for symbol, (price, failed_at) in price_cache.latest_prices_failed(list(symbols)).items()
    }


def _asks(
    name: str,
    asset: Asset,
    listed: dict[str, list[Market]] | None,
    rates: dict[str, conversion.Rate],
    now: datetime,
) -> Iterator[tuple[Origin, Pair | ExchangeError]]:
    """Yield what to ask venue `name` for the asset, market by market, or why not to."""
    if listed is None:
        yield Origin(name), Pair(asset.symbol, asset.base, asset.quote)
        return
    max_age = timedelta(seconds=settings.PRICEHUB_RATE_MAX_AGE_SECONDS)
    currencies = settings.PRICEHUB_RATE_CURRENCIES
    for market in listed.get(asset.base, []):
        if not conversion.usable(asset.base, market.quote, asset.quote, currencies):
            continue
        origin = Origin(name, market.symbol, market.quote)
        if market.status != Market.Status.TRADING:
            said = f" ({market.venue_status})" if market.venue_status else ""
            why = f"{name} lists {market.symbol} as {market.status}{said}; not asked"
            yield origin, ExchangeError(why, reason="halted")
            continue
        if market.quote != asset.quote:
            rate = conversion.convert(market.quote, asset.quote, rates, now=now, max_age=max_age)
            if isinstance(rate, conversion.Unconvertible):
                yield origin, ExchangeError(f"{rate.detail}; not asked", reason="no_conversion")
                continue
            origin = replace(origin, rate=rate.rate, rate_age=rate.age)
        yield origin, Pair(market.symbol, market.base, market.quote, market.symbol)


def _converted(result: Quote | ExchangeError, origin: Origin) -> Quote | ExchangeError:
    """Return the quote's prices in the asset's currency, at its origin's rate."""
    if origin.rate is None or not isinstance(result, Quote):
        return result
    bid, ask = (None if side is None else side * origin.rate for side in (result.bid, result.ask))
    return replace(result, price=result.price * origin.rate, bid=bid, ask=ask)


def _with_last_good(
    assets: Sequence[Asset], named: dict[str, Results], now: datetime
) -> dict[str, Results]:
    """Where a venue's answer failed, let its quote in the asset's last price stand in while
    younger than the asset's quote age limit, as a venue's last trade does: not where the
    venue said it lists no such pair, and only beside a new quote from another venue (with
    none, the refresh fails and says why)."""
    failed = [
        asset.symbol
        for asset in assets
        if any(_lost(result) for _, result in named[asset.symbol])
        and any(isinstance(result, Quote) for _, result in named[asset.symbol])
    ]
    last = price_cache.latest_prices(failed) if failed else {}
    for asset in assets:
        if (price := last.get(asset.symbol)) is None:
            continue
        max_age = asset.rules.max_age
        kept = {
            (source.exchange, source.market): source
            for source in price.used
            if source.quoted_at is not None and now - source.quoted_at <= max_age
        }
        named[asset.symbol] = [
            (origin, _kept(asset.symbol, kept[origin.exchange, origin.market], result))
            if _lost(result) and (origin.exchange, origin.market) in kept
            else (origin, result)
            for origin, result in named[asset.symbol]
        ]
    return named


def _lost(result: Quote | ExchangeError) -> bool:
    # Not lost: a market the venue does not list, lists as halted, or has no rate for.
    return (
        isinstance(result, ExchangeError)
        and not isinstance(result, UnknownPair)
        and result.reason not in {"halted", "no_conversion"}
    )


def _kept(symbol: str, source: Source, error: ExchangeError) -> Quote:
    return Quote(
        exchange=source.exchange,
        symbol=symbol,
        price=source.price,
        bid=source.bid,
        ask=source.ask,
        volume=source.volume,
        timestamp=source.quoted_at,
        received_at=source.quoted_at,
        kept_for=error,
    )

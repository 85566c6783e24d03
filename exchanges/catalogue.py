"""Each venue's markets, kept in step with its own catalogue."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from exchanges import wire
from exchanges.models import Exchange, Market
from exchanges.quotes import ExchangeError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Synced:
    """What one venue's catalogue held at a sync."""

    exchange: str
    trading: int = 0
    halted: int = 0
    delisted: int = 0  # markets no longer in the catalogue
    error: str = ""  # why the catalogue could not be had; the markets were left as they were


def sync(exchange: Exchange) -> Synced:
    """Read the venue's catalogue and store its markets: new ones added, each one's status
    brought up to date, those it no longer lists marked delisted."""
    try:
        listings = wire.fetch_catalogue(exchange)
    except ExchangeError as exc:
        logger.warning("The catalogue of %s could not be read: %s", exchange.name, exc)
        return Synced(exchange.name, error=str(exc))
    markets = {
        listing.symbol: Market(
            exchange=exchange,
            symbol=listing.symbol,
            base=listing.base,
            quote=listing.quote,
            status=Market.Status.TRADING if listing.trading else Market.Status.HALTED,
            venue_status=listing.status,
        )
        for listing in listings
    }
    started = timezone.now()
    with transaction.atomic():
        Market.objects.bulk_create(
            markets.values(),
            batch_size=500,
            update_conflicts=True,
            unique_fields=["exchange", "symbol"],
            update_fields=["base", "quote", "status", "venue_status", "updated_at"],
        )
        # Every market the catalogue lists was written just now; the others are gone from it.
        delisted = (
            exchange.markets.filter(updated_at__lt=started)
            .exclude(status=Market.Status.DELISTED)
            .update(status=Market.Status.DELISTED, venue_status="")
        )
    trading = sum(market.status == Market.Status.TRADING for market in markets.values())
    return Synced(exchange.name, trading, len(markets) - trading, delisted)


def sync_all(names: Iterable[str] | None = None) -> list[Synced]:
    """Sync the markets of every enabled venue (or of the enabled venues named), one venue
    after another."""
    exchanges = Exchange.objects.filter(enabled=True)
    if names is not None:
        exchanges = exchanges.filter(name__in=names)
    return [sync(exchange) for exchange in exchanges]


def listed(
    exchanges: Sequence[Exchange], bases: Iterable[str]
) -> dict[str, dict[str, list[Market]] | None]:
    """Return, per venue name, the markets it lists of each base, in any quote currency
    (halted and delisted ones too), in the order of their names; None for a venue whose
    catalogue is not known, which is asked for a pair by its usual name."""
    names = [exchange.name for exchange in exchanges]
    # An indexed look a venue, and the markets by base (the base's index, not the venue's:
    # a catalogue holds thousands of markets, and a refresh asks often).
    found: dict[str, dict[str, list[Market]] | None] = {
        name: {} if Market.objects.filter(exchange__name=name).exists() else None for name in names
    }
    markets = Market.objects.filter(base__in=set(bases)).select_related("exchange").order_by()
    for market in sorted(markets, key=lambda market: market.symbol):
        by_base = found.get(market.exchange.name)
        if by_base is not None:
            by_base.setdefault(market.base, []).append(market)
    return found

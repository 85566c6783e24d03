"""Price the simulator's N most traded assets (`make run` with SIM_ASSETS)."""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from redis.exceptions import RedisError

from aggregation import scheduling
from aggregation.models import Asset
from mock_exchange_app import currencies
from mock_exchange_app.market import listing

# Tiers by trading rank, as in production: the 20 most traded hot, the next 180 medium.
HOT_RANKS = 20
MEDIUM_RANKS = 180
_BATCH = 900  # rows per statement, under SQLite's old limit of 999 parameters


class Command(BaseCommand):
    help = (
        "Enable the simulated venues' N most traded assets, tiered by rank, and disable "
        "every other asset but those of their markets in other currencies (BTCUSD, the rates "
        "USDTUSD and USDCUSD, ...), which keep their tier."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=int, help="as SIM_ASSETS, e.g. 10000")

    def handle(self, *args: Any, count: int, **options: Any) -> None:
        if count < 1:
            raise CommandError("count must be at least 1")
        wanted = [
            Asset(symbol=a.symbol, base=a.base, quote=a.quote, tier=tier_of(rank), enabled=True)
            for rank, a in enumerate(listing(count).values())
        ]
        with transaction.atomic():
            created, updated, disabled = _upsert(wanted)
        # Bulk writes send no signals. Without Redis yet, no process holds a table to reload.
        with contextlib.suppress(RedisError):
            scheduling.assets_changed()
        tiers = Counter(asset.tier for asset in wanted)
        self.stdout.write(
            f"{len(wanted)} simulated assets enabled ({tiers['hot']} hot, "
            f"{tiers['medium']} medium, {tiers['cold']} cold): {created} created, "
            f"{updated} updated, {disabled} others disabled."
        )


def tier_of(rank: int) -> str:
    """Return the tier of the asset at rank (0 is the most traded)."""
    if rank < HOT_RANKS:
        return Asset.Tier.HOT
    if rank < HOT_RANKS + MEDIUM_RANKS:
        return Asset.Tier.MEDIUM
    return Asset.Tier.COLD


def _upsert(wanted: list[Asset]) -> tuple[int, int, int]:
    """Create the missing rows, correct the others' tier, disable the rest; count each."""
    columns = Asset.objects.values_list("symbol", "pk", "tier", "enabled")
    rows = {symbol: (pk, tier, enabled) for symbol, pk, tier, enabled in columns}
    new = [asset for asset in wanted if asset.symbol not in rows]
    # One UPDATE per tier and batch: bulk_update's CASE per row is slow at 10,000 rows.
    moves: dict[str, list[int]] = defaultdict(list)
    for asset in wanted:
        row = rows.get(asset.symbol)
        if row and row[1:] != (asset.tier, True):
            moves[asset.tier].append(row[0])
    symbols = {asset.symbol for asset in wanted}
    # The markets of those assets in other currencies are quoted too, and enabled as they
    # are, in their tier: BTCUSD, and the rates (USDTUSD, ...) that every conversion needs.
    others = {d.symbol for d in currencies.derived().values() if d.parent in symbols}
    back = [pk for symbol, (pk, _, enabled) in rows.items() if symbol in others and not enabled]
    # Left enabled, assets the venues no longer quote would fail every refresh.
    stale = [
        pk
        for symbol, (pk, _, enabled) in rows.items()
        if enabled and symbol not in symbols | others
    ]
    Asset.objects.bulk_create(new, batch_size=_BATCH)
    for tier, pks in moves.items():
        _update(pks, tier=tier, enabled=True)
    _update(back, enabled=True)
    _update(stale, enabled=False)
    return len(new), sum(map(len, moves.values())) + len(back), len(stale)


def _update(pks: list[int], **fields: object) -> None:
    for start in range(0, len(pks), _BATCH):
        Asset.objects.filter(pk__in=pks[start : start + _BATCH]).update(**fields)

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aggregation.models import Asset
from aggregation.price import RefreshError
from aggregation.services import price_refresh


class Command(BaseCommand):
    help = "Refresh the price of the given assets now, one line each."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("symbols", nargs="*", help="e.g. BTCUSDT ETHUSDT")
        parser.add_argument("--all", action="store_true", help="every enabled asset")
        parser.add_argument("--tier", choices=Asset.Tier.values, help="every enabled asset of it")

    def handle(self, *args: Any, symbols: list[str], all: bool, tier: str | None, **options: Any):
        symbols = self._symbols(symbols, everything=all, tier=tier)
        failed = 0
        for index, symbol in enumerate(symbols, start=1):
            progress = f"[{index}/{len(symbols)}] {symbol}"
            try:
                price = price_refresh(symbol=symbol)
            except RefreshError as exc:
                failed += 1
                self.stderr.write(f"{progress} failed ({exc.code}): {exc}")
                continue
            sources = f"{len(price.used)}/{len(price.sources)} sources"
            self.stdout.write(f"{progress} {price.price} {price.method} ({sources})")
        if failed:
            raise CommandError(f"{failed} of {len(symbols)} refreshes failed")

    def _symbols(self, symbols: list[str], *, everything: bool, tier: str | None) -> list[str]:
        if bool(symbols) + everything + bool(tier) != 1:
            raise CommandError("Name assets, or give --all or --tier (one of them).")
        if symbols:
            return [symbol.upper() for symbol in symbols]
        enabled = Asset.objects.filter(enabled=True)
        if tier:
            enabled = enabled.filter(tier=tier)
        return list(enabled.values_list("symbol", flat=True))

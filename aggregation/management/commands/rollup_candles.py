from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from aggregation.history import store
from aggregation.models import Asset


class Command(BaseCommand):
    help = (
        "Rebuild the candles of the given assets (default: every asset) from their stored "
        "points, such as points recorded before they carried their candles. Run it with the "
        "workers stopped: a candle that a refresh records into meanwhile may come out wrong."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("symbols", nargs="*", help="e.g. BTCUSDT ETHUSDT")

    def handle(self, *args: Any, symbols: list[str], **options: Any) -> None:
        symbols = [symbol.upper() for symbol in symbols] or list(
            Asset.objects.order_by("symbol").values_list("symbol", flat=True)
        )
        for index, symbol in enumerate(symbols, start=1):
            made = store.rollup(symbol)
            self.stdout.write(f"[{index}/{len(symbols)}] {symbol}: {made} candles")

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from aggregation import conversion
from aggregation.models import Asset
from exchanges import catalogue
from exchanges.client import fetch_quote
from exchanges.models import Exchange, Market
from exchanges.quotes import ExchangeError


class Command(BaseCommand):
    help = (
        "check: for each enabled venue, its catalogue, the markets the first assets would use "
        "and one live quote; use simulated|public: point the venues at those base URLs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        check = actions.add_parser("check", help="read each venue's catalogue and one quote")
        check.add_argument("--assets", type=int, default=3, help="how many assets to show")
        use = actions.add_parser("use", help="point the venues' rows at other base URLs")
        use.add_argument("where", choices=sorted(settings.PRICEHUB_VENUE_URLS))

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "use":
            self._use(options["where"])
        else:
            self._check(options["assets"])

    def _use(self, where: str) -> None:
        for name, url in settings.PRICEHUB_VENUE_URLS[where].items():
            if Exchange.objects.filter(name=name).update(base_url=url):
                self.stdout.write(f"{name}: {url}")

    def _check(self, count: int) -> None:
        assets = list(Asset.objects.filter(enabled=True).order_by("symbol")[:count])
        currencies = settings.PRICEHUB_RATE_CURRENCIES
        failed = []
        for exchange in Exchange.objects.filter(enabled=True):
            synced = catalogue.sync(exchange)
            if synced.error:
                failed.append(exchange.name)
                self.stdout.write(f"{exchange.name} ({exchange.base_url}): {synced.error}")
                continue
            listed = catalogue.listed([exchange], {asset.base for asset in assets})
            by_base = listed[exchange.name] or {}
            markets = {
                asset.symbol: [
                    market
                    for market in by_base.get(asset.base, [])
                    if conversion.usable(asset.base, market.quote, asset.quote, currencies)
                ]
                for asset in assets
            }
            self.stdout.write(
                f"{exchange.name} ({exchange.base_url}): "
                f"{synced.trading + synced.halted} markets listed, {synced.trading} trading"
            )
            for asset in assets:
                found = markets[asset.symbol]
                names = ", ".join(f"{m.symbol} ({m.status})" for m in found) or "not listed"
                self.stdout.write(f"  {asset.symbol}: {names}")
            if not self._quote(exchange, assets, markets):
                failed.append(exchange.name)
        if failed:
            raise CommandError(f"Venues with trouble: {', '.join(failed)}")

    def _quote(
        self, exchange: Exchange, assets: list[Asset], markets: dict[str, list[Market]]
    ) -> bool:
        """Write one live quote of the first asset the venue trades; return whether it came."""
        for asset in assets:
            for market in markets[asset.symbol]:
                if market.status != Market.Status.TRADING:
                    continue
                try:
                    quote = fetch_quote(
                        exchange,
                        symbol=market.symbol,
                        base=market.base,
                        quote=market.quote,
                        market=market.symbol,
                    )
                except ExchangeError as exc:
                    self.stdout.write(f"  quote of {market.symbol}: {exc}")
                    return False
                book = f"bid {quote.bid}, ask {quote.ask}"
                volume = f"{quote.volume} {market.base} in 24 h"
                self.stdout.write(f"  quote of {market.symbol}: {quote.price} ({book}), {volume}")
                return True
        self.stdout.write("  no quote: none of these assets trades here")
        return False

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aggregation.models import Asset
from exchanges.models import Exchange
from mock_exchange_app.accuracy import measure, measure_market

TABLE = "{:<18} {:>4} {:>12} {:>8} {:>14} {:>13}"


class Command(BaseCommand):
    help = (
        "Apply each fault scenario to one simulated venue, then a USDT depeg to the whole "
        "market, and print how far PriceHub's price, a plain VWAP and a plain VWAP taking "
        "every quote currency at par land from the true price, in basis points."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--asset", default="BTCUSDT")
        parser.add_argument("--venue", default="binance", help="the exchange that misbehaves")
        parser.add_argument("--samples", type=int, default=5, help="refreshes per scenario")
        parser.add_argument(
            "--settle",
            type=float,
            default=3.0,
            help="seconds between a scenario's change and its first sample, as the beat's "
            "next refreshes (the rates') take in the change",
        )

    def handle(
        self, *args: Any, asset: str, venue: str, samples: int, settle: float, **options: Any
    ) -> None:
        exchanges = list(Exchange.objects.filter(enabled=True))
        faulty = next((exchange for exchange in exchanges if exchange.name == venue), None)
        target = Asset.objects.filter(symbol=asset.upper()).first()
        if faulty is None or target is None:
            raise CommandError(f"No enabled exchange {venue!r} or no asset {asset!r}.")
        rows = measure(target, faulty, exchanges, samples=samples, settle=settle)
        rows += measure_market(target, exchanges, samples=samples, settle=settle)
        baseline = rows[0].pricehub_bps or 0.0
        self.stdout.write(f"{target.symbol}, faults on {venue}, {samples} samples each")
        self.stdout.write(
            TABLE.format(
                "scenario", "used", "PriceHub bps", "vs none", "plain VWAP bps", "at par bps"
            )
        )
        for row in rows:
            ours = "no quorum" if row.pricehub_bps is None else f"{row.pricehub_bps:.2f}"
            delta = "" if row.pricehub_bps is None else f"{row.pricehub_bps - baseline:+.2f}"
            plain, par = f"{row.plain_vwap_bps:.2f}", f"{row.at_par_bps:.2f}"
            self.stdout.write(TABLE.format(row.scenario, row.sources_used, ours, delta, plain, par))

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchanges import catalogue
from exchanges.models import Exchange


class Command(BaseCommand):
    help = "Read the venues' catalogues now and store their markets, one line a venue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", help="venues, e.g. binance; every enabled one")

    def handle(self, *args: Any, names: list[str], **options: Any) -> None:
        exchanges = Exchange.objects.filter(enabled=True)
        if names:
            exchanges = Exchange.objects.filter(name__in=names)
            if unknown := set(names) - {exchange.name for exchange in exchanges}:
                raise CommandError(f"No such venue: {', '.join(sorted(unknown))}")
        synced = [catalogue.sync(exchange) for exchange in exchanges]
        for each in synced:
            if each.error:
                self.stderr.write(f"{each.exchange}: catalogue unread ({each.error})")
            else:
                counts = f"{each.trading} trading, {each.halted} halted"
                self.stdout.write(f"{each.exchange}: {counts}, {each.delisted} newly delisted")
        if failed := [each.exchange for each in synced if each.error]:
            raise CommandError(f"Catalogues unread: {', '.join(failed)}")

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from aggregation import price_cache
from aggregation.models import Asset
from aggregation.price import AggregatedPrice
from exchanges.models import Exchange
from mock_exchange_app.accuracy import (
    CONVERGED_BPS,
    Options,
    Row,
    measure,
    scenarios,
    signed_bps,
)

TABLE = "{:<34} {:>4} {:>4} {:>9} {:>11} {:>8} {:>8} {:>9} {:>9} {:>8} {:>10}"
HEADER = ("", "used", "n", "mean bps", "rounds", "p95 bps", "vs none", "plain bps", "plain p95")


class Command(BaseCommand):
    help = (
        "Run each scenario on the simulated venues (fault-free, each fault on one venue, each "
        "other venue down, every venue down, a USDT depeg, jumps of 2 %, jumps with the "
        "largest venue down, the largest venue 3 s late) and print how far PriceHub's "
        "published price, a plain VWAP of the same quotes and that VWAP taking every quote "
        "currency at par land from the true price, in basis points, and how soon after a "
        "jump's end the price is within 10 bps of the truth."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--asset", default="BTCUSD")
        parser.add_argument("--venue", default="binance", help="the exchange that misbehaves")
        parser.add_argument(
            "--samples",
            type=int,
            default=Options().samples,
            help="prices sampled per scenario, over its rounds (each price published once)",
        )
        parser.add_argument(
            "--rounds",
            type=int,
            default=Options().rounds,
            help="times each scenario is measured, in turn with the others, every other round "
            "in reverse order",
        )
        parser.add_argument("--jumps", type=int, default=20, help="jumps per jump scenario")
        parser.add_argument(
            "--settle",
            type=float,
            default=Options().settle,
            help="seconds between a scenario's change and its first sample, as the beat's "
            "next refreshes (the rates') take in the change",
        )
        parser.add_argument(
            "--only", default="", help="run only the scenarios whose name contains this"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        exchanges = list(Exchange.objects.filter(enabled=True))
        names = [exchange.name for exchange in exchanges]
        target = Asset.objects.filter(symbol=options["asset"].upper(), enabled=True).first()
        if options["venue"] not in names or target is None:
            raise CommandError(
                f"No enabled exchange {options['venue']!r} or no enabled asset "
                f"{options['asset']!r}."
            )
        largest = largest_venue(target.symbol, exchanges)
        todo = [s for s in scenarios(options["venue"], names, largest) if options["only"] in s.name]
        steady = Options(options["samples"], options["rounds"], options["settle"])
        jumps = Options(samples=options["jumps"], settle=options["settle"])
        rows = [
            *measure(target, exchanges, [s for s in todo if not s.jump], steady),
            *measure(target, exchanges, [s for s in todo if s.jump], jumps),
        ]
        self.stdout.write(f"{target.symbol}, {len(exchanges)} venues, largest {largest}")
        self.stdout.write(TABLE.format(*HEADER, "par bps", "converge"))
        baseline = rows[0].mean_bps if rows and rows[0].scenario == "none" else None
        for row in rows:
            self.stdout.write(TABLE.format(*_cells(row, baseline)))
        self.stdout.write("")
        for ok, text in targets(rows):
            self.stdout.write(f"{'PASS' if ok else 'MISS'}  {text}")
        # A steady scenario's price past CONVERGED_BPS is a fault PriceHub let through: show
        # what it was made of (a jump's first samples are that far by design).
        for row in rows:
            if row.worst is not None and row.converged_p95_seconds is None:
                price, truth = row.worst
                if abs(signed_bps(price.price, truth)) > CONVERGED_BPS:
                    self.stdout.write(f"\nWorst price of {row.scenario}: {sample(price, truth)}")


def largest_venue(symbol: str, exchanges: Sequence[Exchange]) -> str:
    """Return the venue with the most volume in the asset's latest price (the first venue
    when it has none)."""
    price = price_cache.latest_prices([symbol]).get(symbol)
    volumes: dict[str, Decimal] = {exchange.name: Decimal(0) for exchange in exchanges}
    for source in price.used if price else []:
        if source.exchange in volumes and source.volume is not None:
            volumes[source.exchange] += source.volume
    return max(volumes, key=lambda name: volumes[name])


def sample(price: AggregatedPrice, truth: Decimal) -> str:
    """Return a price's error and its used sources, one a line: enough to tell a late venue
    from a stale rate."""
    at = price.aggregated_at.isoformat(timespec="milliseconds")
    lines = [f"{signed_bps(price.price, truth):+.2f} bps, {price.price} against {truth} at {at}"]
    for source in price.used:
        rate = "" if source.rate is None else f" at rate {source.rate} ({source.rate_age} s old)"
        error = signed_bps(source.price, truth)
        lines.append(
            f"  {source.exchange} {source.market}: {error:+.1f} bps{rate}, weight {source.weight}"
        )
    return "\n".join(lines)


def targets(rows: list[Row]) -> list[tuple[bool, str]]:
    """Return whether each target was met, with what was measured, for the rows there are."""
    found: list[tuple[bool, str]] = []
    none = next((row for row in rows if row.scenario == "none"), None)
    if none is not None:
        found.append((_mean(none) <= 1.5, f"fault-free {_mean(none):.2f} bps <= 1.5"))
        groups: dict[str, list[Row]] = {}
        for row in rows:
            if row.group is not None:
                groups.setdefault(row.group, []).append(row)
        for group, faults in groups.items():
            worst = max(faults, key=_mean)
            delta = _mean(worst) - _mean(none)
            text = f"{group} within 2 bps of fault-free: {worst.scenario} {delta:+.2f}"
            found.append((delta <= 2, text))
    for row in rows:
        if (took := row.converged_p95_seconds) is not None:
            text = f"{row.scenario}: within 10 bps of the truth {took:.2f} s after the end, p95"
            found.append((took <= 2, f"{text} <= 2 s"))
        elif (bound := row.bound_bps) is not None:
            plain = f"(plain VWAP {row.plain_mean_bps:.2f})"
            text = f"{row.scenario}: {_mean(row):.2f} bps <= {bound:g} {plain}"
            found.append((_mean(row) <= bound, text))
    return found


def _mean(row: Row) -> float:
    return math.inf if row.mean_bps is None else row.mean_bps


def _cells(row: Row, baseline: float | None) -> list[str]:
    if row.mean_bps is None:
        ours = ["no price", "", "", ""]
    else:
        delta = "" if baseline is None else f"{row.mean_bps - baseline:+.2f}"
        ours = [f"{row.mean_bps:.2f}", _spread(row.rounds), f"{row.p95_bps:.2f}", delta]
    plain = [_number(row.plain_mean_bps), _number(row.plain_p95_bps), _number(row.at_par_bps)]
    converged = row.converged_p95_seconds
    return [
        row.scenario,
        str(row.sources_used),
        str(row.samples),
        *ours,
        *plain,
        "" if converged is None else f"{converged:.2f} s",
    ]


def _number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.2f}"


def _spread(rounds: tuple[float, ...]) -> str:
    """Return the lowest and highest of the rounds' means, when there are several."""
    return f"{min(rounds):.2f}-{max(rounds):.2f}" if len(rounds) > 1 else ""

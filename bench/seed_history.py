"""Give an asset of the bench's stack the history a stack that has run for hours holds.

The bench's stack starts from nothing, so a few minutes in its hot asset has a few points and
candles: its history and candle rows would read short pages. Before them, this stores COUNT
points of the asset EVERY seconds apart, all older than its first live point, each a copy of its
latest price at a price that walks; then PriceHub's own rollup (as `manage.py rollup_candles`)
rebuilds its candles from every stored point and drops what Redis kept of them, so that its next
recorded point fills its recent lists from DynamoDB again.

Run in the stack's environment: `python -m bench.seed_history BTCUSDT`.
"""

from __future__ import annotations

import os
import random
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

COUNT = 200
EVERY_SECONDS = 30.0
_STEP = 0.0005  # the walk's step from one point to the next, relative


def main(symbol: str) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricehub.settings")
    django.setup()
    print(f"bench.seed_history: {seed(symbol)}")


def seed(symbol: str, count: int = COUNT, every: float = EVERY_SECONDS) -> str:
    """Store count points of symbol every seconds apart before its oldest, rebuild its candles;
    say what was done."""
    from aggregation.history import client, items, reads, store
    from aggregation.price import from_epoch_ms

    first, _ = reads.page(symbol, from_epoch_ms(0), datetime.now(UTC), newest_first=False, limit=1)
    latest = reads.latest(symbol)
    if not first or latest is None:
        sys.exit(f"bench.seed_history: {symbol} has no stored point yet")
    oldest = first[0].time
    walk, price = random.Random(symbol), latest.price  # noqa: S311 (a walk, not a secret)
    points = []
    for back in range(count, 0, -1):
        step = Decimal(str(round(1 + walk.gauss(0, _STEP), 6)))
        price = (price * step).quantize(latest.price)
        at = oldest - timedelta(seconds=back * every)
        points.append(replace(latest, price=price, aggregated_at=at, last_updated=at))
    client.write([(client.points_table(), items.point_item(point, {})) for point in points])
    made = store.rollup(symbol)
    return f"{count} points of {symbol} stored before {oldest:%H:%M:%S} UTC, {made} candles rebuilt"


if __name__ == "__main__":
    main(sys.argv[1])

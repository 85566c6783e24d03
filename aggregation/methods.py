"""Aggregation methods: pure functions of quotes, Decimal out. No Django, no I/O.

Every method expects quotes that passed validation: finite positive prices, uncrossed books
and non-negative volumes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import MAX_PREC, Decimal, localcontext
from itertools import accumulate
from typing import Protocol

_TRIM_FRACTION = Decimal("0.2")


class Priced(Protocol):
    """What a method reads from a venue's quote or a stored source record."""

    # Read-only properties, so frozen dataclasses match the protocol too.
    @property
    def price(self) -> Decimal: ...

    @property
    def volume(self) -> Decimal: ...

    @property
    def bid(self) -> Decimal | None: ...

    @property
    def ask(self) -> Decimal | None: ...


def vwap(quotes: Sequence[Priced]) -> Decimal:
    """Return the volume-weighted mean price (the plain mean when no quote has volume)."""
    _require(quotes, "vwap")
    total_volume = sum((q.volume for q in quotes), Decimal(0))
    if total_volume == 0:
        return _mean([q.price for q in quotes])
    return sum((q.price * q.volume for q in quotes), Decimal(0)) / total_volume


def median(quotes: Sequence[Priced]) -> Decimal:
    """Return the median price (the mean of the two middle ones for an even count)."""
    _require(quotes, "median")
    return median_of([q.price for q in quotes])


def volume_weighted_median(quotes: Sequence[Priced]) -> Decimal:
    """Return the price at which cumulative volume, cheapest first, reaches half the total."""
    _require(quotes, "volume_weighted_median")
    if any(q.volume < 0 for q in quotes):
        raise ValueError("volume_weighted_median of a negative volume")
    if all(q.volume == 0 for q in quotes):
        return median(quotes)
    # Sorting on volume as well puts equal prices in one order whatever the input order.
    ranked = sorted((q.price, q.volume) for q in quotes)
    lower, upper = _weighted_medians(ranked)
    return lower if lower == upper else (lower + upper) / 2


def trimmed_mean(quotes: Sequence[Priced], *, fraction: Decimal = _TRIM_FRACTION) -> Decimal:
    """Return the mean price once floor(n * fraction) prices are dropped from each end."""
    _require(quotes, "trimmed_mean")
    if not 0 <= fraction < Decimal("0.5"):
        raise ValueError(f"trimmed_mean fraction must be at least 0 and below 0.5, not {fraction}")
    prices = sorted(q.price for q in quotes)
    cut = int(len(prices) * fraction)  # int() floors a non-negative number
    return _mean(prices[cut : len(prices) - cut])


def best_bid(quotes: Sequence[Priced]) -> Decimal:
    """Return the highest bid, skipping quotes without one."""
    _require(quotes, "best_bid")
    return max(_present([q.bid for q in quotes], "a bid"))


def best_ask(quotes: Sequence[Priced]) -> Decimal:
    """Return the lowest ask, skipping quotes without one."""
    _require(quotes, "best_ask")
    return min(_present([q.ask for q in quotes], "an ask"))


def mid(quotes: Sequence[Priced]) -> Decimal:
    """Return the mean of the best bid and the best ask."""
    _require(quotes, "mid")
    return (best_bid(quotes) + best_ask(quotes)) / 2


METHODS: dict[str, Callable[[Sequence[Priced]], Decimal]] = {
    "vwap": vwap,
    "median": median,
    "volume_weighted_median": volume_weighted_median,
    "trimmed_mean": trimmed_mean,
    "best_bid": best_bid,
    "best_ask": best_ask,
    "mid": mid,
}


def confidence(quotes: Sequence[Priced]) -> Decimal:
    """Return half the width of the range where every venue would trade (Pyth's conf)."""
    _require(quotes, "confidence")
    highest = max(q.price if q.ask is None else q.ask for q in quotes)
    lowest = min(q.price if q.bid is None else q.bid for q in quotes)
    # A bid above its own price or ask would give a negative width; a width is never negative.
    return max((highest - lowest) / 2, Decimal(0))


def median_of(values: Sequence[Decimal]) -> Decimal:
    """Return the median of the values (the mean of the two middle ones for an even count)."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _weighted_medians(ranked: list[tuple[Decimal, Decimal]]) -> tuple[Decimal, Decimal]:
    """Return the lower and upper weighted medians of price-sorted (price, volume) pairs."""
    # Exact sums: a rounded cumulative volume could miss the half-volume boundary.
    with localcontext(prec=MAX_PREC):
        cumulative = list(accumulate(volume for _, volume in ranked))
        total = cumulative[-1]
        prices = [price for price, _ in ranked]
        # Compare doubled sums with the total rather than halve it: no division at MAX_PREC.
        lower = next(p for p, c in zip(prices, cumulative, strict=True) if 2 * c >= total)
        upper = next(p for p, c in zip(prices, cumulative, strict=True) if 2 * c > total)
    return lower, upper


def _mean(values: Sequence[Decimal]) -> Decimal:
    """Return the arithmetic mean of the values."""
    return sum(values, Decimal(0)) / len(values)


def _present(values: list[Decimal | None], wanted: str) -> list[Decimal]:
    """Return the values that are there; raise when no quote has this side of the book."""
    present = [value for value in values if value is not None]
    if not present:
        raise ValueError(f"no quote has {wanted}")
    return present


def _require(quotes: Sequence[Priced], method: str) -> None:
    """Raise ValueError when there is nothing to aggregate."""
    if not quotes:
        raise ValueError(f"{method} of no quotes")

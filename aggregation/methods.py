"""Aggregation methods: pure functions of quotes, Decimal out. No Django, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from exchanges.quotes import Quote


def vwap(quotes: Sequence[Quote]) -> Decimal:
    """Return the volume-weighted mean price (the plain mean when no quote has volume)."""
    if not quotes:
        raise ValueError("vwap of no quotes")
    total_volume = sum((q.volume for q in quotes), Decimal(0))
    if total_volume == 0:
        return sum((q.price for q in quotes), Decimal(0)) / len(quotes)
    return sum((q.price * q.volume for q in quotes), Decimal(0)) / total_volume


METHODS = {"vwap": vwap}

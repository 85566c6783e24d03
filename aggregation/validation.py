"""Quote validation and outlier rejection: pure functions, no Django, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from aggregation.methods import Priced, median_of
from exchanges.quotes import Quote

# No asset trades at a quadrillion; a number that size is a venue's bug, not a price.
ABSURD_PRICE = Decimal("1e15")
# Below three quotes the MAD is the spread itself, so it cannot tell which side is wrong.
_MAD_MIN_QUOTES = 3
_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a quote was left out: a code and a short sentence for people."""

    reason: str  # invalid_price, crossed_book, no_volume, stale or outlier
    detail: str


def check_quote(quote: Quote, *, now: datetime, max_age: timedelta) -> Rejection | None:
    """Return why the quote is unusable, or None when it is fine."""
    return (
        _invalid_price(quote)
        or _crossed_book(quote)
        or _no_volume(quote)
        or _stale(quote, now=now, max_age=max_age)
    )


def new_quotes(quotes: Sequence[Quote]) -> list[Quote]:
    """Return the quotes that say where the market is now, around which outliers and trust are
    judged: the new ones (a kept quote is its venue's word from before, and two kept quotes must
    never outvote a move the one venue that answered shows), or all of them when none is new."""
    return [quote for quote in quotes if quote.kept_for is None] or list(quotes)


def find_outliers(
    quotes: Sequence[Priced],
    *,
    mad_k: Decimal,
    band: Decimal,
    voters: Sequence[Priced] | None = None,
) -> list[Rejection | None]:
    """Return, for each quote in order, its rejection as an outlier or None, judged around
    the median of the voters (by default the quotes themselves)."""
    if not quotes:
        return []
    votes = [q.price for q in (quotes if voters is None else voters)]
    center = median_of(votes)
    # The band and the percentages in the detail are relative to the median.
    if center <= 0:
        raise ValueError(f"find_outliers needs a positive median price, not {center}")
    limit = _outlier_limit(votes, center, mad_k=mad_k, band=band)
    return [_outlier(q.price, center, limit) for q in quotes]


def _invalid_price(quote: Quote) -> Rejection | None:
    """Return a rejection for the first of price, bid and ask that is not a sane price."""
    sides = (("price", quote.price), ("bid", quote.bid), ("ask", quote.ask))
    for name, value in sides:
        problem = None if value is None else _price_problem(value)
        if problem is not None:
            return Rejection("invalid_price", f"{name} {problem}")
    return None


def _price_problem(value: Decimal) -> str | None:
    """Return what is wrong with a price, or None when it is sane."""
    # Check finiteness first: ordering a NaN raises InvalidOperation.
    if not value.is_finite():
        return f"is {value}; it must be a finite number"
    if value <= 0:
        return f"is {value:f}; it must be positive"
    if value >= ABSURD_PRICE:
        return f"is {value:,f}; it must be below {ABSURD_PRICE:,f}"
    return None


def _crossed_book(quote: Quote) -> Rejection | None:
    """Return a rejection when the bid is above the ask (a locked book is fine)."""
    if quote.bid is None or quote.ask is None or quote.bid <= quote.ask:
        return None
    return Rejection("crossed_book", f"bid {quote.bid:f} is above ask {quote.ask:f}")


def _no_volume(quote: Quote) -> Rejection | None:
    """Return a rejection when the volume is not a positive finite number."""
    if quote.volume.is_finite() and quote.volume > 0:
        return None
    return Rejection("no_volume", f"volume is {quote.volume:f}; it must be positive")


def _stale(quote: Quote, *, now: datetime, max_age: timedelta) -> Rejection | None:
    """Return a rejection when the venue's timestamp is more than max_age before now."""
    age = now - quote.timestamp
    if age <= max_age:
        return None
    return Rejection("stale", f"quote is {_seconds(age)} s old; the limit is {_seconds(max_age)} s")


def _outlier_limit(
    prices: Sequence[Decimal], center: Decimal, *, mad_k: Decimal, band: Decimal
) -> Decimal:
    """Return the largest distance from the median that is still not an outlier."""
    band_limit = band * center
    if len(prices) < _MAD_MIN_QUOTES:
        return band_limit
    mad = median_of([abs(price - center) for price in prices])
    return max(mad_k * mad, band_limit)


def _outlier(price: Decimal, center: Decimal, limit: Decimal) -> Rejection | None:
    """Return a rejection when the price is strictly further than limit from the median."""
    distance = abs(price - center)
    if distance <= limit:
        return None
    return Rejection(
        "outlier",
        f"{price:f} is {_percent(distance, center)} % from the median {center:f}; "
        f"the limit is {_percent(limit, center)} %",
    )


def _percent(part: Decimal, whole: Decimal) -> str:
    """Return part as a percentage of whole with two decimals."""
    # format() rounds for display without quantize's precision limit on huge ratios.
    return f"{part / whole * 100:.2f}"


def _seconds(duration: timedelta) -> str:
    """Return the duration in seconds, exact to the microsecond, without trailing zeros."""
    seconds = Decimal(duration // _ONE_MICROSECOND) / 1_000_000
    return f"{seconds.normalize():f}"

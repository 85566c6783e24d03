"""From venue answers to one price: validate, reject outliers, check the quorum, combine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Context, Decimal

from aggregation.methods import METHODS
from aggregation.price import AggregatedPrice, RefreshError, Source, whole_ms
from aggregation.trust import Trust, trusts, weights
from aggregation.validation import Rejection, check_quote, find_outliers, new_quotes
from exchanges.quotes import ExchangeError, Quote

# Twelve significant digits: finer than any venue's tick, and exact as a JSON number.
_PRICE_CONTEXT = Context(prec=12)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a quote or error comes from, and how its price came into the pricing currency."""

    exchange: str
    market: str | None = None  # the venue's name for it; None when asked by the usual name
    quote: str | None = None  # the market's quote currency, when the catalogue says
    rate: Decimal | None = None  # pricing currency per unit of quote, when converted
    rate_age: Decimal | None = None  # seconds


Results = Sequence[tuple[Origin, Quote | ExchangeError]]


@dataclass(frozen=True, slots=True)
class Rules:
    """How one asset's price is made: Asset.rules fills it from the asset and settings."""

    method: str
    quorum: int
    max_age: timedelta
    mad_k: Decimal
    band: Decimal  # a fraction of the median
    half_life: Decimal = Decimal(2)  # seconds: a kept quote's weight halves (trust.py)
    tolerance: Decimal = Decimal("0.0003")  # a fraction of the median (trust.py)


class NoQuorum(RefreshError):
    """Too few venues gave a usable quote to publish a price, or none the method can use."""

    code = "no_quorum"

    def __init__(
        self, symbol: str, sources: Sequence[Source], quorum: int, *, short: str | None = None
    ) -> None:
        self.symbol = symbol
        self.sources = tuple(sources)
        venues = {source.exchange for source in sources}
        used = {source.exchange for source in sources if source.status == "used"}
        reasons = "; ".join(
            f"{_named(source)}: {source.detail}" for source in sources if source.detail
        )
        short = short or (
            f"{len(used)} of {len(venues)} venues gave a usable quote for {symbol}; {quorum} needed"
        )
        super().__init__(short + (f" ({reasons})." if reasons else "."))


def aggregate(
    symbol: str,
    results: Results,
    *,
    rules: Rules,
    now: datetime,
) -> AggregatedPrice:
    """Return the price of symbol from each market's quote or error; raise NoQuorum when
    fewer venues than the quorum have a usable one."""
    rejections = [_check(result, rules, now) for _, result in results]
    valid = _kept(results, rejections)
    # Outliers are judged among the valid quotes only, around the new ones (new_quotes). Each
    # takes its verdict in order.
    new = new_quotes(valid)
    verdicts = iter(find_outliers(valid, mad_k=rules.mad_k, band=rules.band, voters=new))
    rejections = [next(verdicts) if rejection is None else rejection for rejection in rejections]
    used = _kept(results, rejections)
    trust = trusts(used, now=now, half_life=rules.half_life, tolerance=rules.tolerance)
    # Each used quote's trust and share of the weight, in order.
    judged = iter(zip(trust, weights(used, trust), strict=True))
    sources = [
        _source(origin, result, rejection, None if rejection else next(judged))
        for (origin, result), rejection in zip(results, rejections, strict=True)
    ]
    if len({quote.exchange for quote in used}) < rules.quorum:
        raise NoQuorum(symbol, sources, rules.quorum)
    weighed = [replace(q, volume=q.volume * t.factor) for q, t in zip(used, trust, strict=True)]
    try:
        price = combine(weighed, rules.method)
    except ValueError as exc:  # the method needs a side of the book no used quote has
        short = f"{rules.method} found no price for {symbol}, as {exc}"
        raise NoQuorum(symbol, sources, rules.quorum, short=short) from exc
    return AggregatedPrice(
        asset=symbol,
        price=price,
        method=rules.method,
        last_updated=whole_ms(max(quote.timestamp for quote in used)),
        aggregated_at=whole_ms(now),
        sources=tuple(sources),
    )


def combine(quotes: Sequence[Quote] | Sequence[Source], method: str) -> Decimal:
    """Return the price of quotes by method, to twelve significant digits."""
    return _PRICE_CONTEXT.plus(METHODS[method](quotes))


def recombine(sources: Sequence[Source], method: str) -> Decimal:
    """Return the price of a published price's used sources by method, each weighed as it was
    (its share of the weight, in place of its volume; older prices have none)."""
    return combine(
        [s if s.weight is None else replace(s, volume=s.weight) for s in sources], method
    )


def _kept(results: Results, rejections: Sequence[Rejection | None]) -> list[Quote]:
    """Return the quotes that nothing rejected, in order (an error always carries one)."""
    return [
        result
        for (_, result), rejection in zip(results, rejections, strict=True)
        if rejection is None
    ]


def _check(result: Quote | ExchangeError, rules: Rules, now: datetime) -> Rejection | None:
    if isinstance(result, ExchangeError):
        return Rejection(result.reason, str(result))
    return check_quote(result, now=now, max_age=rules.max_age)


def _source(
    origin: Origin,
    result: Quote | ExchangeError,
    rejection: Rejection | None,
    judged: tuple[Trust, Decimal] | None,
) -> Source:
    status = "used" if rejection is None else "excluded"
    reason = None if rejection is None else rejection.reason
    detail = None if rejection is None else rejection.detail
    market = {
        "market": origin.market,
        "quote": origin.quote,
        "rate": origin.rate,
        "rate_age": origin.rate_age,
    }
    if isinstance(result, ExchangeError):
        return Source(origin.exchange, status, reason, detail, **market)
    weight = None
    if judged is not None:
        trust, weight = judged
        detail = trust.detail
        if result.kept_for is not None:
            detail = f"last good quote kept; no new one: {result.kept_for}; {detail}"
    return Source(
        origin.exchange,
        status,
        reason,
        detail,
        weight=weight,
        price=result.price,
        bid=result.bid,
        ask=result.ask,
        volume=result.volume,
        quoted_at=whole_ms(result.timestamp),
        **market,
    )


def _named(source: Source) -> str:
    return source.exchange if source.market is None else f"{source.exchange} {source.market}"

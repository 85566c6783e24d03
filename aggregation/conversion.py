"""Pure: a market quoted in one currency priced in another, through the rates PriceHub
aggregates itself (the price of its USDTUSD, USDCUSD, EURUSD, ... assets), never at par.

rate(Q -> P) = usd(Q) / usd(P), where usd(USD) is 1 and usd(C) the price of asset CUSD, for the
currencies PriceHub converts through (RATE_CURRENCIES): the one a refresh of CUSD has just made
in the same round (aggregation/services.py), else the latest. A market quoted in another
currency is not used; one whose rate has no price yet, is older than the limit or whose asset's
last refresh failed (no quorum) is excluded, with why. USDT's own price comes from USD books
alone, and another currency's from its USD books and its USDT ones, so that no rate ever rests
on itself.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Context, Decimal

ANCHOR = "USDT"
_RATE = Context(prec=12)


@dataclass(frozen=True, slots=True)
class Rate:
    """What one unit of a currency is worth in USD, as PriceHub last aggregated it."""

    usd: Decimal
    at: datetime
    failed_at: datetime | None = None  # when a later refresh of it had no quorum


@dataclass(frozen=True, slots=True)
class Conversion:
    rate: Decimal  # pricing currency per unit of the market's quote
    age: Decimal  # seconds since the oldest rate it rests on was aggregated


@dataclass(frozen=True, slots=True)
class Unconvertible:
    detail: str


def rate_asset(code: str) -> str:
    """Return the symbol of the asset whose price is a currency's rate: USDT -> USDTUSD."""
    return f"{code}USD"


def rate_of(base: str, quote: str, currencies: Collection[str]) -> str | None:
    """Return the currency whose rate an asset's price is (USDT for USDTUSD), or None."""
    return base if quote == "USD" and base in currencies else None


def usable(base: str, quote: str, pricing: str, currencies: Collection[str]) -> bool:
    """Return whether an asset of base priced in pricing may use a market quoted in quote,
    currencies being those PriceHub converts through (settings.PRICEHUB_RATE_CURRENCIES)."""
    if quote == pricing:
        return True
    if base == ANCHOR:
        return False
    if base in currencies:  # a currency with a rate of its own: its USD and USDT books only
        return quote == ANCHOR
    return all(code == "USD" or code in currencies for code in (quote, pricing))


def convert(
    quote: str, pricing: str, rates: Mapping[str, Rate], *, now: datetime, max_age: timedelta
) -> Conversion | Unconvertible:
    """Return the rate from quote to pricing, or why there is none fresh enough."""
    codes = [code for code in dict.fromkeys((quote, pricing)) if code != "USD"]
    if missing := [code for code in codes if code not in rates]:
        return Unconvertible(f"no {missing[0]}/USD rate: {rate_asset(missing[0])} has no price")
    used = [(code, rates[code]) for code in codes]
    for code, rate in used:
        if rate.failed_at is not None:
            # Its venues no longer agree (a move half of them show): the last rate is the
            # market of before, not one to price with.
            return Unconvertible(
                f"the {code}/USD rate's last refresh had no quorum; "
                f"{rate_asset(code)}'s last price is not used"
            )
        if now - rate.at > max_age:
            age = (now - rate.at).total_seconds()
            return Unconvertible(
                f"the {code}/USD rate is {age:.0f} s old, past {max_age.total_seconds():g} s"
            )
    usd = {code: rate.usd for code, rate in used} | {"USD": Decimal(1)}
    oldest = min((rate.at for _, rate in used), default=now)
    age = Decimal((now - oldest).total_seconds()).quantize(Decimal("0.001"))
    return Conversion(_RATE.divide(usd[quote], usd[pricing]), age)

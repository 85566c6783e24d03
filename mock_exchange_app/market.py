"""One simulated market: a true price per asset and what each venue quotes around it.

Everything is a pure function of (seed, symbol, venue, time) and the market's conditions
(conditions.py: jumps, volatility, venues' lags), which every venue process reads from one
file, so separate venue processes agree exactly.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from functools import cache, lru_cache, partial
from pathlib import Path
from statistics import NormalDist

from mock_exchange_app import conditions

SEED = int(os.environ.get("SIM_SEED", "42"))
VENUES = ("binance", "coinbase", "kraken", "okx", "bybit", "bitstamp")

_ASSETS_CSV = Path(__file__).with_name("assets.csv")
# Synthetic assets: a base of letters and digits that no real or Kraken-renamed asset uses.
_SYNTHETIC_BASE = "SIM{:04d}"
_SYNTHETIC_QUOTE = "USDT"
_SYNTHETIC_PRICES = (-2.0, 4.0)  # log10 range of starting prices: $0.01 to $10,000
_SYNTHETIC_TOP_USD = 1e8  # 24 h volume of the first synthetic asset, below the CSV's least
_ZIPF = 0.8  # volume falls as rank**-0.8, roughly how trading spreads over a long tail
_LEVELS = 20  # coarsest grid 2**19 s (~6 days): Brownian up to days, anchored to the CSV price
_WALK_NORM = 0.5  # measured: the raw sum moves ~2 units per sqrt(second)
_DAY = 86_400
_SAMPLE_STEP = 3600  # high/low/vwap sample grid; aligned so samples are reused between requests
_SAMPLED_LEVEL = 12  # the finest walk level in a sample: 2**12 s, above the grid's step
_STABLECOINS = frozenset({"USDC", "USDT", "DAI", "FDUSD", "TUSD"})
_VENUE_SHARE = dict(zip(VENUES, (0.45, 0.15, 0.06, 0.12, 0.10, 0.03), strict=True))
_AVG_TRADE_USD = 1500.0
_BP = 1e-4
_QTY = Decimal("1E-8")
_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class Asset:
    symbol: str
    base: str
    quote: str
    price: Decimal  # starting price, in the quote asset
    volume: Decimal  # 24 h volume across all venues, in the base asset


@dataclass(frozen=True, slots=True)
class Stats:
    """Trading on one venue over a window that ends at the ticker's time."""

    open: Decimal
    high: Decimal
    low: Decimal
    vwap: Decimal
    volume: Decimal  # base asset
    trades: int


@dataclass(frozen=True, slots=True)
class Ticker:
    venue: str
    symbol: str
    time: datetime  # UTC
    last: Decimal
    last_qty: Decimal
    last_trade_id: int
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    rolling: Stats  # the last 24 h
    today: Stats  # since 00:00 UTC


def sim_asset_count(raw: str | None) -> int | None:
    """Parse SIM_ASSETS: None when unset or empty, else a positive number of assets."""
    if not raw:
        return None
    if not raw.isdecimal() or int(raw) < 1:
        raise ValueError(f"SIM_ASSETS must be a positive whole number, not {raw!r}")
    return int(raw)


SIM_ASSETS = sim_asset_count(os.environ.get("SIM_ASSETS"))
# The samples a ticker's 24 h window reads are reused from request to request; room for about
# a hundred per asset keeps a big market's tickers as cheap as a small one's.
_SAMPLES_CACHED = max(1 << 18, 128 * (SIM_ASSETS or 0))


@cache
def assets() -> Mapping[str, Asset]:
    """Return the assets the market trades: SIM_ASSETS of them, or the CSV's when unset."""
    return listing(SIM_ASSETS, SEED)


@cache
def listing(count: int | None = None, seed: int = SEED) -> Mapping[str, Asset]:
    """Return the `count` most traded assets: the CSV's in file order, then synthetic ones.

    None means the CSV's assets alone; a count below theirs keeps the first `count`.
    """
    with _ASSETS_CSV.open(newline="") as f:
        real = [
            Asset(r["symbol"], r["base"], r["quote"], Decimal(r["price"]), Decimal(r["volume"]))
            for r in csv.DictReader(f)
        ]
    count = len(real) if count is None else count
    synthetic = (_synthetic(rank, seed) for rank in range(1, count - len(real) + 1))
    return {a.symbol: a for a in [*real[:count], *synthetic]}


def _synthetic(rank: int, seed: int) -> Asset:
    """Make the rank-th synthetic asset; its volume in USDT falls strictly with rank."""
    base = _SYNTHETIC_BASE.format(rank)
    symbol = base + _SYNTHETIC_QUOTE
    low, high = _SYNTHETIC_PRICES
    price = _significant(10 ** (low + (high - low) * _uniform(seed, symbol, "listing")), 5)
    volume_usd = _SYNTHETIC_TOP_USD * rank**-_ZIPF
    volume = _significant(volume_usd / float(price), 8)
    return Asset(symbol, base, _SYNTHETIC_QUOTE, price, volume)


def _significant(value: float, digits: int) -> Decimal:
    """Round to `digits` significant digits, keeping whole numbers free of exponents."""
    exponent = min(0, math.floor(math.log10(value)) - digits + 1)
    return Decimal(value).quantize(Decimal(1).scaleb(exponent), ROUND_HALF_EVEN)


def known_symbols() -> tuple[str, ...]:
    """Return every symbol the market trades, in listing order."""
    return tuple(assets())


def true_price(symbol: str, at: datetime, seed: int = SEED) -> Decimal:
    """Return the asset's true price at `at`; raise KeyError for an unknown symbol."""
    t = _seconds(at)
    return _to_tick(symbol, _truth(symbol, t, seed) * _moved(symbol, t, seed), ROUND_HALF_EVEN)


def venue_ticker(venue: str, symbol: str, at: datetime, seed: int = SEED) -> Ticker:
    """Return what `venue` quotes for `symbol` at `at`; raise KeyError for unknown names."""
    if venue not in _VENUE_SHARE:
        raise KeyError(venue)
    t = _seconds(at)
    # A lagging venue's book is the market as it was its lag ago, at today's time.
    seen = t - conditions.current().lag(venue, t)
    mid = _venue_mid(venue, symbol, seen, seed) * _moved(symbol, seen, seed)
    half_spread = mid * (0.5 + 2 * _uniform(seed, venue, symbol, "spread")) * _BP
    # Last trade sits anywhere inside the spread, so bid <= last <= ask.
    last = mid + half_spread * (2 * _uniform(seed, venue, symbol, "side", int(t)) - 1)
    midnight = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return Ticker(
        venue=venue,
        symbol=symbol,
        time=at.astimezone(UTC),
        last=_to_tick(symbol, last, ROUND_HALF_EVEN),
        last_qty=_qty(venue, symbol, t, "last", seed),
        last_trade_id=_trade_id(venue, symbol, t),
        bid=_to_tick(symbol, mid - half_spread, ROUND_FLOOR),
        bid_qty=_qty(venue, symbol, t, "bid", seed),
        ask=_to_tick(symbol, mid + half_spread, ROUND_CEILING),
        ask_qty=_qty(venue, symbol, t, "ask", seed),
        rolling=_stats(venue, symbol, t - _DAY, t, last, seed),
        today=_stats(venue, symbol, midnight.timestamp(), t, last, seed),
    )


def tick_size(symbol: str) -> Decimal:
    """Return the asset's price tick: the 8th significant digit of its starting price."""
    return Decimal(1).scaleb(assets()[symbol].price.adjusted() - 7)


def _seconds(at: datetime) -> float:
    if at.tzinfo is None:
        raise ValueError("naive datetime; pass an aware UTC time")
    return at.timestamp()


def _truth(symbol: str, t: float, seed: int, finest: int = 0) -> float:
    """Return the asset's truth at t in the quiet market, which the conditions then move."""
    scale = _scale(symbol, seed)
    return float(assets()[symbol].price) * math.exp(scale * _walk(seed, symbol, t, finest))


def _scale(symbol: str, seed: int) -> float:
    # The asset's daily volatility, per unit of the walk.
    stable = assets()[symbol].base in _STABLECOINS
    return (0.0005 if stable else 0.03 + 0.03 * _uniform(seed, symbol, "vol")) / math.sqrt(_DAY)


def _moved(symbol: str, t: float, seed: int) -> float:
    """Return the factor by which the market's conditions move the asset's truth at t."""
    walk, scale = partial(_walk, seed, symbol), _scale(symbol, seed)
    return conditions.current().moved(assets()[symbol].base, t, walk, scale)


def _walk(seed: int, symbol: str, t: float, finest: int = 0) -> float:
    """Sum value noise over doubling grids, each scaled by sqrt(spacing) like Brownian motion,
    from the grid of spacing 2**finest seconds up."""
    levels = (
        math.sqrt(2**level) * _value_noise((seed, symbol, level), t, 2**level)
        for level in range(finest, _LEVELS)
    )
    return _WALK_NORM * sum(levels)


def _value_noise(key: tuple[object, ...], t: float, spacing: float) -> float:
    """Interpolate linearly between Gaussian deviates pinned at multiples of `spacing`."""
    x = t / spacing
    i = math.floor(x)
    f = x - i
    return (1 - f) * _gauss(*key, i) + f * _gauss(*key, i + 1)


@lru_cache(maxsize=_SAMPLES_CACHED)
def _gauss(*key: object) -> float:
    return _NORMAL.inv_cdf(_uniform(*key))


def _uniform(*key: object) -> float:
    """Map a key to (0, 1) identically in every process (unlike the salted built-in hash)."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 0.5) / 2**64


@lru_cache(maxsize=_SAMPLES_CACHED)
def _venue_mid(venue: str, symbol: str, t: float, seed: int) -> float:
    offset = (2 * _uniform(seed, venue, symbol, "offset") - 1) * 3 * _BP
    # Micro-noise changes once a second; clamped so a venue never strays far from the truth.
    noise = max(-3.0, min(3.0, _gauss(seed, venue, symbol, "micro", int(t)))) * _BP
    return _truth(symbol, t, seed) * (1 + offset + noise)


@lru_cache(maxsize=_SAMPLES_CACHED)
def _sampled_mid(venue: str, symbol: str, t: int, seed: int) -> float:
    # The venue's mid at a point of the sample grid, without the walk's levels finer than the
    # grid: they would cost most of a new asset's first ticker and show in no sample.
    offset = (2 * _uniform(seed, venue, symbol, "offset") - 1) * 3 * _BP
    return _truth(symbol, t, seed, _SAMPLED_LEVEL) * (1 + offset)


@lru_cache(maxsize=_SAMPLES_CACHED)
def _grid(venue: str, symbol: str, first: int, stop: int, seed: int) -> tuple[float, ...]:
    # High, low, sum and count of the samples from first up to stop: the same for every
    # ticker until the window passes the next sample.
    samples = [_sampled_mid(venue, symbol, t, seed) for t in range(first, stop, _SAMPLE_STEP)]
    if not samples:
        return -math.inf, math.inf, 0.0, 0
    return max(samples), min(samples), sum(samples), len(samples)


def _stats(venue: str, symbol: str, start: float, end: float, last: float, seed: int) -> Stats:
    first = math.ceil(start / _SAMPLE_STEP) * _SAMPLE_STEP
    stop = math.ceil(end / _SAMPLE_STEP) * _SAMPLE_STEP  # the samples before end
    high, low, total, count = _grid(venue, symbol, int(first), int(stop), seed)
    # The window opens on the venue's mid and closes on the last trade, so high >= last >= low
    # always holds.
    opening = _venue_mid(venue, symbol, start, seed)
    volume = _daily_volume(venue, symbol, end, seed) * (end - start) / _DAY
    return Stats(
        open=_to_tick(symbol, opening, ROUND_HALF_EVEN),
        high=_to_tick(symbol, max(high, opening, last), ROUND_HALF_EVEN),
        low=_to_tick(symbol, min(low, opening, last), ROUND_HALF_EVEN),
        vwap=_to_tick(symbol, (total + opening + last) / (count + 2), ROUND_HALF_EVEN),
        volume=Decimal(volume).quantize(_QTY, ROUND_DOWN),
        trades=_trade_id(venue, symbol, end) - _trade_id(venue, symbol, start),
    )


def _daily_volume(venue: str, symbol: str, t: float, seed: int) -> float:
    """Scale the asset's volume by venue share and a slow drift over hours."""
    drift = math.exp(0.25 * _value_noise((seed, venue, symbol, "volume"), t, 6 * 3600))
    return float(assets()[symbol].volume) * _VENUE_SHARE[venue] * drift


def _trade_id(venue: str, symbol: str, t: float) -> int:
    """Count trades at a constant rate so ids only ever grow."""
    asset = assets()[symbol]
    per_day = float(asset.volume * asset.price) * _VENUE_SHARE[venue] / _AVG_TRADE_USD
    return int(t * per_day / _DAY)


def _qty(venue: str, symbol: str, t: float, side: str, seed: int) -> Decimal:
    typical = _AVG_TRADE_USD / float(assets()[symbol].price)
    size = typical * math.exp(_gauss(seed, venue, symbol, side, int(t)))
    return max(_QTY, Decimal(size).quantize(_QTY, ROUND_DOWN))


def _to_tick(symbol: str, price: float, rounding: str) -> Decimal:
    """Round to the asset's fixed tick, so every venue quotes the same price grid."""
    return Decimal(price).quantize(tick_size(symbol), rounding)

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from statistics import pstdev

import pytest

from mock_exchange_app import market

AT = datetime(2026, 11, 25, 3, 54, 28, 123456, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def bps(a: Decimal, b: Decimal) -> Decimal:
    return abs(a / b - 1) * 10_000


def test_it_loads_the_top_ten_assets_against_usdt() -> None:
    symbols = market.known_symbols()
    assert len(symbols) == 10
    assert symbols[0] == "BTCUSDT"
    assert all(a.quote == "USDT" and a.price > 0 for a in market.assets().values())


def test_it_gives_the_same_true_price_for_the_same_time() -> None:
    assert market.true_price("BTCUSDT", AT) == market.true_price("BTCUSDT", AT)
    assert isinstance(market.true_price("BTCUSDT", AT), Decimal)


def test_it_agrees_with_a_fresh_process_with_another_hash_seed() -> None:
    code = (
        "from datetime import datetime;from mock_exchange_app import market;"
        f"print(market.true_price('ETHUSDT', datetime.fromisoformat('{AT.isoformat()}')))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "SIM_SEED": str(market.SEED)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert Decimal(out.stdout.strip()) == market.true_price("ETHUSDT", AT)


def test_it_gives_different_prices_for_different_seeds() -> None:
    assert market.true_price("BTCUSDT", AT, seed=1) != market.true_price("BTCUSDT", AT, seed=2)


def test_it_moves_the_price_over_time_but_stays_near_the_listed_price() -> None:
    start = market.assets()["BTCUSDT"].price
    prices = {market.true_price("BTCUSDT", AT + timedelta(hours=h)) for h in range(48)}
    assert len(prices) == 48
    assert all(bps(p, start) < 5_000 for p in prices)


def test_it_walks_with_a_few_percent_daily_volatility() -> None:
    days = [market.true_price("SOLUSDT", AT + timedelta(days=d)) for d in range(120)]
    returns = [math.log(b / a) for a, b in pairwise(days)]
    assert 0.01 < pstdev(returns) < 0.1


def test_it_keeps_the_stablecoin_far_calmer_than_bitcoin() -> None:
    def daily_moves(symbol: str) -> Decimal:
        p = [market.true_price(symbol, AT + timedelta(days=d)) for d in range(30)]
        return max(bps(b, a) for a, b in pairwise(p))

    assert daily_moves("USDCUSDT") * 10 < daily_moves("BTCUSDT")


@pytest.mark.parametrize("venue", market.VENUES)
def test_it_keeps_each_venue_within_a_few_bps_of_the_truth(venue: str) -> None:
    for symbol in market.known_symbols():
        for minute in range(0, 600, 37):
            at = AT + timedelta(minutes=minute, seconds=minute / 7)
            assert (
                bps(market.venue_ticker(venue, symbol, at).last, market.true_price(symbol, at)) < 10
            )


def test_it_makes_the_venues_disagree_slightly() -> None:
    lasts = {market.venue_ticker(v, "ETHUSDT", AT).last for v in market.VENUES}
    assert len(lasts) == len(market.VENUES)


def test_it_quotes_bid_below_ask_with_the_last_trade_inside_the_day_range() -> None:
    for venue in market.VENUES:
        for symbol in market.known_symbols():
            t = market.venue_ticker(venue, symbol, AT)
            assert t.bid < t.ask
            assert t.bid <= t.last <= t.ask
            assert t.rolling.low <= t.last <= t.rolling.high
            assert min(t.bid_qty, t.ask_qty, t.last_qty, t.rolling.volume) > 0


def test_it_grows_trade_ids_and_counts_fewer_trades_today_than_in_24_hours() -> None:
    before = market.venue_ticker("kraken", "BTCUSDT", AT)
    after = market.venue_ticker("kraken", "BTCUSDT", AT + timedelta(minutes=5))
    assert after.last_trade_id > before.last_trade_id
    assert 0 < before.today.trades < before.rolling.trades
    assert before.today.volume < before.rolling.volume


def test_it_rejects_unknown_symbols_venues_and_naive_times() -> None:
    with pytest.raises(KeyError):
        market.true_price("NOPEUSDT", AT)
    with pytest.raises(KeyError):
        market.venue_ticker("mtgox", "BTCUSDT", AT)
    with pytest.raises(ValueError, match="naive"):
        market.true_price("BTCUSDT", AT.replace(tzinfo=None))

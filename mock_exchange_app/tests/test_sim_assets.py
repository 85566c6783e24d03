from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest
import requests

from aggregation.tests import stack
from exchanges.adapters import get_adapter
from mock_exchange_app import market

ROOT = Path(__file__).resolve().parents[2]
CSV_ROWS = (ROOT / "mock_exchange_app" / "assets.csv").read_text().splitlines()
CSV_SYMBOLS = [row["symbol"] for row in csv.DictReader(CSV_ROWS)]
SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")
AT = datetime(2026, 11, 25, 3, 54, 28, 123456, tzinfo=UTC)
COUNT = 300
LAST = market.listing(COUNT)["SIM0290USDT"]


def in_fresh_process(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "SIM_ASSETS"}
    command = [sys.executable, "-c", code]
    env = {**environ, "PYTHONHASHSEED": "12345", **env}
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout


def test_it_lists_exactly_the_csv_assets_without_sim_assets() -> None:
    code = "from mock_exchange_app import market; print(*market.known_symbols())"
    assert in_fresh_process(code).split() == CSV_SYMBOLS
    assert list(market.listing(None)) == CSV_SYMBOLS


def test_it_lists_n_unique_valid_symbols_with_the_csv_ones_first() -> None:
    listed = market.listing(COUNT)
    assert len(listed) == COUNT
    assert list(listed)[:10] == CSV_SYMBOLS
    assert all(SYMBOL.match(s) and s == a.base + a.quote for s, a in listed.items())
    assert all(a.price > 0 and a.volume > 0 for a in listed.values())


def test_it_keeps_the_first_n_csv_assets_below_ten() -> None:
    assert list(market.listing(3)) == CSV_SYMBOLS[:3]


def test_it_names_synthetic_assets_by_rank_with_falling_volume() -> None:
    synthetic = list(market.listing(COUNT).values())[10:]
    assert [a.symbol for a in synthetic[:2]] == ["SIM0001USDT", "SIM0002USDT"]
    traded = [a.price * a.volume for a in synthetic]
    assert all(a > b for a, b in pairwise(traded))
    assert max(traded) < min(a.price * a.volume for a in market.listing(10).values())


def test_it_spreads_synthetic_prices_over_orders_of_magnitude() -> None:
    prices = [a.price for a in list(market.listing(COUNT).values())[10:]]
    assert Decimal("0.01") <= min(prices) < 1 < 1000 < max(prices) <= 10_000


def test_it_lists_the_same_assets_in_every_process() -> None:
    code = "from mock_exchange_app import market; print(repr(dict(market.assets())))"
    out = in_fresh_process(code, SIM_ASSETS=str(COUNT), SIM_SEED=str(market.SEED))
    assert out.strip() == repr(dict(market.listing(COUNT)))
    assert market.listing(COUNT) is market.listing(COUNT)


@pytest.mark.parametrize("raw", ["0", "-5", "many"])
def test_it_refuses_a_sim_assets_that_is_no_positive_number(raw: str) -> None:
    with pytest.raises(ValueError, match="SIM_ASSETS"):
        market.sim_asset_count(raw)


def test_it_quotes_a_synthetic_asset_near_its_listed_price(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(market, "assets", lambda: market.listing(COUNT))
    ticker = market.venue_ticker("kraken", LAST.symbol, AT)
    truth = market.true_price(LAST.symbol, AT)
    assert ticker.bid < ticker.ask
    assert abs(truth / LAST.price - 1) < Decimal("0.5")


@pytest.fixture(scope="module")
def big_venues() -> Iterator[dict[str, str]]:
    """Serve the six venues with SIM_ASSETS set, each in its own process."""
    with stack.venues({**os.environ, "SIM_ASSETS": str(COUNT)}) as served:
        yield served


@pytest.mark.parametrize("kind", market.VENUES)
def test_it_serves_a_synthetic_asset_that_the_real_adapters_parse(
    big_venues: dict[str, str], kind: str
) -> None:
    adapter = get_adapter(kind)
    reply = requests.get(adapter.ticker_url(big_venues[kind], LAST.base, LAST.quote), timeout=5)
    received_at = datetime.now(UTC)
    quote = adapter.parse(
        reply.status_code, reply.content, exchange=kind, symbol=LAST.symbol, received_at=received_at
    )
    assert quote.bid < quote.ask
    assert abs(quote.price / LAST.price - 1) < Decimal("0.5")
    assert quote.volume > 0


def test_it_answers_the_true_price_of_a_synthetic_asset(big_venues: dict[str, str]) -> None:
    reply = requests.get(f"{big_venues['binance']}/sim/truth/{LAST.symbol}", timeout=5)
    assert reply.status_code == 200
    assert reply.json()["symbol"] == LAST.symbol

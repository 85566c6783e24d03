"""GET /assets: every configured asset in pages, filtered by tier, venue, text and state."""

from __future__ import annotations

import base64
import json

import pytest

from aggregation.models import Asset
from exchanges import catalogue
from exchanges.models import Exchange

# No venue_rows: it puts the venues' documented limits back, under tests that lifted them.
pytestmark = pytest.mark.usefixtures("stores", "seeded_assets")


def symbols(answer) -> list[str]:
    return [asset["symbol"] for asset in answer.json()["assets"]]


def walk(api, query: str) -> list[list[str]]:
    """Return the symbols of each page of GET /assets?query, following next_cursor."""
    pages, cursor = [], None
    while True:
        answer = api.get(f"/assets?{query}" + (f"&cursor={cursor}" if cursor else ""))
        assert answer.status_code == 200
        pages.append(symbols(answer))
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return pages


@pytest.fixture
def many_assets(db: None) -> None:
    """250 more assets, cold, with no venue listing them."""
    Asset.objects.bulk_create(
        Asset(symbol=f"SIM{n:04}USDT", base=f"SIM{n:04}", quote="USDT", tier="cold")
        for n in range(250)
    )


@pytest.mark.usefixtures("many_assets")
def test_it_walks_every_asset_once_in_symbol_order_page_by_page(api):
    pages = walk(api, "limit=7")
    every = [symbol for page in pages for symbol in page]
    assert every == sorted(Asset.objects.values_list("symbol", flat=True))
    assert [len(page) for page in pages] == [7] * (len(every) // 7) + [len(every) % 7]


def test_it_keeps_its_fields_and_says_when_no_page_follows(api):
    answer = api.get("/assets").json()
    assert answer["next_cursor"] is None
    assert len(answer["assets"]) == Asset.objects.count()
    assert set(answer["assets"][0]) == {
        "symbol",
        "base",
        "quote",
        "enabled",
        "tier",
        "refresh_tier",
        "refresh_seconds",
        "method",
        "quorum",
    }


@pytest.mark.usefixtures("many_assets")
def test_it_pages_a_hundred_by_default(api):
    answer = api.get("/assets").json()
    assert len(answer["assets"]) == 100
    assert answer["next_cursor"] is not None


def test_it_filters_by_tier(api):
    assert symbols(api.get("/assets?tier=hot")) == [
        "BTCUSD",
        "BTCUSDT",
        "ETHUSD",
        "ETHUSDT",
        "SOLUSDT",
        "USDCUSD",
        "USDTUSD",
    ]
    assert symbols(api.get("/assets?tier=cold")) == ["AVAXUSDT", "TRXUSDT", "USDCUSDT"]


def test_it_filters_by_a_venue_by_the_markets_its_catalogue_lists(api, venues):
    binance = Exchange.objects.get(name="binance")
    binance.base_url = venues["binance"]
    catalogue.sync(binance)
    Asset.objects.create(symbol="NOPEUSDT", base="NOPE", quote="USDT")
    listed = set(symbols(api.get("/assets?venue=binance")))
    # Binance lists no market of USDT itself, nor of NOPE.
    assert listed == set(Asset.objects.values_list("symbol", flat=True)) - {"USDTUSD", "NOPEUSDT"}
    assert symbols(api.get("/assets?venue=kraken")) == []  # its catalogue not read yet


@pytest.mark.usefixtures("many_assets")
def test_it_finds_part_of_a_name_in_any_case_across_pages(api):
    assert symbols(api.get("/assets?q=usdc")) == ["USDCUSD", "USDCUSDT"]
    assert symbols(api.get("/assets?q=Sdtu")) == ["USDTUSD"]
    found = [symbol for page in walk(api, "q=im01&limit=4") for symbol in page]
    assert found == [f"SIM01{n:02}USDT" for n in range(100)]


def test_it_combines_filters_and_filters_by_state(api):
    Asset.objects.filter(symbol="ETHUSD").update(enabled=False)
    assert symbols(api.get("/assets?tier=hot&q=eth")) == ["ETHUSD", "ETHUSDT"]
    assert symbols(api.get("/assets?tier=hot&q=eth&enabled=true")) == ["ETHUSDT"]
    assert symbols(api.get("/assets?enabled=false")) == ["ETHUSD"]
    assert symbols(api.get("/assets?q=&tier=")) == symbols(api.get("/assets"))


def cursor_of(after: object) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("tier=warm", "invalid_tier"),
        ("venue=nasdaq", "invalid_venue"),
        ("q=BTC%25", "invalid_query"),
        ("q=" + "A" * 21, "invalid_query"),
        ("q=%00", "invalid_query"),
        ("enabled=yes", "invalid_enabled"),
        ("limit=0", "invalid_limit"),
        ("limit=1001", "invalid_limit"),
        ("limit=²", "invalid_limit"),
        ("cursor=nope", "invalid_cursor"),
        (f"cursor={cursor_of(1795582028877)}", "invalid_cursor"),
        (f"cursor={cursor_of('btc usdt')}", "invalid_cursor"),
    ],
)
def test_it_rejects_bad_parameters_with_why(api, query, error):
    answer = api.get(f"/assets?{query}")
    assert (answer.status_code, answer.json()["error"]) == (400, error)
    assert answer.json()["detail"]

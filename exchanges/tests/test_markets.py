"""The venues' markets, read from their catalogues over HTTP (the simulated venues) and served
by GET /markets, manage.py sync_markets and the admin."""

from __future__ import annotations

import queue

import pytest
from celery import Task
from celery.signals import task_postrun
from django.core.management import CommandError, call_command

from deploy.services import free_port
from exchanges import catalogue
from exchanges.models import Exchange, Market
from exchanges.tasks import sync_markets
from mock_exchange_app import control, currencies, market

pytestmark = pytest.mark.usefixtures("venue_rows")


def test_each_venue_s_catalogue_gives_its_markets_under_its_own_names():
    synced = catalogue.sync_all()
    assert {(s.exchange, s.trading, s.halted, s.delisted, s.error) for s in synced} == {
        (venue, len(currencies.listed(venue)), 0, 0, "") for venue in market.VENUES
    }
    btc = {m.exchange.name: m for m in Market.objects.filter(base="BTC", quote="USDT")}
    assert {name: m.symbol for name, m in btc.items()} == {
        "binance": "BTCUSDT",
        "coinbase": "BTC-USDT",
        "kraken": "XBTUSDT",  # Kraken's catalogue names Bitcoin XXBT, PriceHub BTC
        "okx": "BTC-USDT",
        "bybit": "BTCUSDT",
        "bitstamp": "btcusdt",
    }
    assert {m.venue_status for m in btc.values()} == {
        "TRADING",
        "online",
        "live",
        "Trading",
        "Enabled",
    }
    # The USD books, under Kraken's key for its oldest pairs, and the USDC ones.
    usd = Market.objects.filter(base="BTC", quote__in=["USD", "USDC"])
    assert sorted(usd.values_list("exchange__name", "symbol", "quote")) == [
        ("binance", "BTCUSDC", "USDC"),
        ("bitstamp", "btcusd", "USD"),
        ("bitstamp", "btcusdc", "USDC"),
        ("bybit", "BTCUSDC", "USDC"),
        ("coinbase", "BTC-USD", "USD"),
        ("kraken", "XXBTZUSD", "USD"),
        ("okx", "BTC-USDC", "USDC"),
    ]
    stablecoins = Market.objects.filter(base__in=["USDT", "USDC"], quote="USD")
    assert sorted(stablecoins.values_list("exchange__name", "symbol")) == [
        ("bitstamp", "usdcusd"),
        ("bitstamp", "usdtusd"),
        ("coinbase", "USDT-USD"),
        ("kraken", "USDCUSD"),
        ("kraken", "USDTZUSD"),
    ]
    kraken_doge = Market.objects.filter(base="DOGE", exchange__name="kraken")
    assert sorted(kraken_doge.values_list("symbol", flat=True)) == ["XDGUSD", "XDGUSDT"]


def test_a_market_gone_from_the_catalogue_is_delisted_and_one_back_trades_again():
    kraken = Exchange.objects.get(name="kraken")
    catalogue.sync(kraken)
    gone = Market.objects.create(
        exchange=kraken, symbol="XLUNAZUSD", base="LUNA", quote="USD", status="trading"
    )
    assert catalogue.sync(kraken).delisted == 1
    gone.refresh_from_db()
    assert (gone.status, gone.venue_status) == ("delisted", "")
    Market.objects.filter(symbol="XBTUSDT").update(status="delisted")
    assert catalogue.sync(kraken).delisted == 0  # already delisted
    assert Market.objects.get(symbol="XBTUSDT").status == "trading"


def test_a_catalogue_that_cannot_be_had_leaves_the_markets_as_they_were(venues):
    binance = Exchange.objects.get(name="binance")
    catalogue.sync(binance)
    before = list(binance.markets.values_list("symbol", "status", "updated_at"))
    control.set_fault(venues["binance"], "*", "garbage", kind="html")
    try:
        synced = catalogue.sync(binance)
    finally:
        control.clear_faults(venues["binance"])
    assert synced.error == "not JSON"
    binance.base_url = f"http://127.0.0.1:{free_port()}"
    assert catalogue.sync(binance).error.startswith("unreachable")
    assert list(binance.markets.values_list("symbol", "status", "updated_at")) == before


@pytest.mark.django_db(transaction=True)  # the worker's thread reads committed rows
def test_a_catalogue_that_could_not_be_read_is_read_again_soon_alone(worker, venues, settings):
    settings.PRICEHUB_CATALOGUE_RETRY_SECONDS = 0.5
    runs: queue.Queue[tuple[str, dict, object]] = queue.Queue()

    def ran(sender: Task, state: str, kwargs: dict, retval: object, **_: object) -> None:
        if sender.name == sync_markets.name:
            runs.put((state, kwargs, retval))

    # The test's thread reads the worker's rows only between its runs: SQLite's in-memory
    # database, shared between threads, refuses at once a read during a write.
    task_postrun.connect(ran, weak=False)
    try:
        Exchange.objects.filter(name="kraken").update(base_url=f"http://127.0.0.1:{free_port()}")
        sync_markets.delay()
        assert runs.get(timeout=30)[:2] == ("RETRY", {})
        assert Market.objects.exclude(exchange__name="kraken").exists()
        assert not Market.objects.filter(exchange__name="kraken").exists()
        # Kraken back: the next try (0.5 s later, then 1 s, 2 s, ...) reads Kraken's alone.
        read = Market.objects.latest("updated_at").updated_at
        Exchange.objects.filter(name="kraken").update(base_url=venues["kraken"])
        while (run := runs.get(timeout=30))[0] == "RETRY":
            assert run[1] == {"names": ["kraken"]}
    finally:
        task_postrun.disconnect(ran)
    listed = len(currencies.listed("kraken"))
    assert run == ("SUCCESS", {"names": ["kraken"]}, listed)
    assert Market.objects.filter(exchange__name="kraken").count() == listed
    assert not Market.objects.exclude(exchange__name="kraken").filter(updated_at__gt=read)


def test_the_command_syncs_the_named_venues_and_says_what_it_found(capsys):
    call_command("sync_markets", "coinbase")
    listed = len(currencies.listed("coinbase"))
    assert capsys.readouterr().out == f"coinbase: {listed} trading, 0 halted, 0 newly delisted\n"
    assert set(Market.objects.values_list("exchange__name", flat=True)) == {"coinbase"}
    with pytest.raises(CommandError, match="No such venue: bitfinex"):
        call_command("sync_markets", "bitfinex")


def test_get_markets_filters_by_venue_base_quote_and_status(api):
    catalogue.sync_all()
    answer = api.get("/markets", {"exchange": "kraken", "base": "btc", "quote": "usdt"})
    assert answer.status_code == 200
    (btc,) = answer.json()["markets"]
    assert {k: v for k, v in btc.items() if k != "updated_at"} == {
        "exchange": "kraken",
        "symbol": "XBTUSDT",
        "base": "BTC",
        "quote": "USDT",
        "status": "trading",
        "venue_status": "online",
    }
    usdt = api.get("/markets", {"quote": "USDT"}).json()["markets"]
    # Every asset's USDT market on each venue, and Binance's EURUSDT.
    assert len(usdt) == len(market.VENUES) * len(market.assets()) + 1
    euro = api.get("/markets", {"base": "EUR"}).json()["markets"]
    assert sorted((m["exchange"], m["symbol"], m["quote"]) for m in euro) == [
        ("binance", "EURUSDT", "USDT"),
        ("bitstamp", "eurusd", "USD"),
        ("kraken", "ZEURZUSD", "USD"),  # Kraken's ZEUR is EUR
    ]
    assert api.get("/markets", {"status": "halted"}).json() == {"markets": []}
    bad = api.get("/markets", {"status": "open"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_status"


def test_an_operator_syncs_a_venue_s_markets_from_the_admin_and_sees_them(admin_client):
    kraken = Exchange.objects.get(name="kraken")
    answer = admin_client.post(
        "/admin/exchanges/exchange/",
        {"action": "sync_markets", "_selected_action": [kraken.pk]},
        follow=True,
    )
    listed = len(currencies.listed("kraken"))
    assert f"Kraken: {listed} trading, 0 halted, 0 delisted" in answer.content.decode()
    page = admin_client.get("/admin/exchanges/market/", {"q": "XBTUSDT"}).content.decode()
    assert '<td class="field-base">BTC</td>' in page
    assert admin_client.get("/admin/exchanges/market/add/").status_code == 403

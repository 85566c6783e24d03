"""The reads raise PriceHub's read errors, never HTTP ones, and count no demand: the views
that serve them do."""

from __future__ import annotations

import threading
from pathlib import Path
from unittest import mock

import pytest

from aggregation import copies, scheduling, selectors
from aggregation.methods import METHODS
from aggregation.selectors import price_reading, prices_reading
from aggregation.services import price_refresh
from common import redis_store
from common.read_errors import InvalidRead, NoPrice, UnknownSymbol
from common.redis_store import keys
from deploy.services import free_port

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stores", "venue_rows")]


def demand(symbol: str) -> float | None:
    scheduling.flush_requests()
    return redis_store.connection().zscore(keys.requests(), symbol)


def test_a_read_refuses_a_malformed_symbol_an_unknown_asset_and_an_unknown_method():
    with pytest.raises(InvalidRead) as malformed:
        price_reading(symbol="BTC-USDT")
    with pytest.raises(UnknownSymbol) as unknown:
        price_reading(symbol="nopeusdt")
    with pytest.raises(InvalidRead) as method:
        price_reading(symbol="BTCUSDT", method="average")
    assert [malformed.value.code, unknown.value.code, method.value.code] == [
        "invalid_asset",
        "unknown_asset",
        "invalid_method",
    ]
    assert str(unknown.value) == "PriceHub does not price NOPEUSDT."
    assert method.value.extra == {"methods": list(METHODS)}


def test_a_read_of_an_asset_never_priced_raises_no_price():
    with pytest.raises(NoPrice, match="No price for AVAXUSDT is available yet"):
        price_reading(symbol="AVAXUSDT")


def test_a_batch_refuses_no_name_and_too_many_and_lists_the_other_errors():
    with pytest.raises(InvalidRead, match="Give assets="):
        prices_reading(symbols=[" ", ""])
    with pytest.raises(InvalidRead, match="at most 50"):
        prices_reading(symbols=[f"A{n}USDT" for n in range(51)])
    price_refresh(symbol="BTCUSDT")
    batch = prices_reading(symbols=["btcusdt", "NOPEUSDT"])
    assert batch.symbols == ["BTCUSDT"]
    assert b'"errors":[{"asset":"NOPEUSDT","error":"unknown_asset"' in batch.body


def test_a_read_counts_no_demand_and_the_views_count_the_prices_they_serve(api):
    price_refresh(symbol="BTCUSDT")
    price_reading(symbol="BTCUSDT")
    prices_reading(symbols=["BTCUSDT"])
    assert demand("BTCUSDT") is None
    api.get("/prices/BTCUSDT")
    api.get("/prices", {"assets": "BTCUSDT,ETHUSDT"})
    assert (demand("BTCUSDT"), demand("ETHUSDT")) == (2, None)


def test_a_read_that_neither_redis_nor_dynamodb_can_answer_is_unavailable(api, settings):
    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    response = api.get("/prices/BTCUSDT")
    assert (response.status_code, response.json()["error"]) == (503, "unavailable")


def test_the_reads_know_nothing_of_http_nor_catch_a_backend_s_errors():
    sources = [Path(module.__file__).read_text() for module in (selectors, copies)]
    forbidden = ["common.errors", "rest_framework", "botocore", "RedisError", "global "]
    assert [word for word in forbidden if any(word in source for source in sources)] == []


@pytest.mark.django_db(transaction=True)
def test_threads_that_find_the_asset_table_old_at_once_reload_it_once(settings):
    settings.PRICEHUB_ASSET_TABLE_SECONDS = 10
    copies.forget_assets()
    start = threading.Barrier(8)

    def read() -> None:
        start.wait()
        copies.assets()

    with mock.patch.object(
        copies.Asset.objects, "filter", wraps=copies.Asset.objects.filter
    ) as queried:
        threads = [threading.Thread(target=read) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert queried.call_count == 1

"""Tiers, demand promotion, single-flight refreshes and the history write policy."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from aggregation import price_cache, scheduling
from aggregation.history import backlog
from aggregation.models import Asset
from aggregation.price import RefreshInProgress
from aggregation.services import price_refresh
from aggregation.tasks import dispatch_due_refreshes, promote_requested_assets, refresh_batch

pytestmark = pytest.mark.usefixtures("stores", "venue_rows")


def hold_lock(symbol: str, seconds: float) -> threading.Thread:
    held = threading.Event()

    def hold() -> None:
        with price_cache.refresh_lock(symbol):
            held.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    return thread


def test_it_does_not_start_a_refresh_that_is_already_running():
    holder = hold_lock("BTCUSDT", 0.5)
    with pytest.raises(RefreshInProgress):
        price_refresh(symbol="BTCUSDT")
    holder.join()


def test_a_beat_refresh_skips_an_asset_being_refreshed():
    holder = hold_lock("BTCUSDT", 0.5)
    refresh_batch.apply(args=(["BTCUSDT"], 1.0))
    holder.join()
    assert price_cache.latest_price("BTCUSDT") is None


def test_it_promotes_the_most_requested_asset_to_hot(settings):
    settings.PRICEHUB_HOT_PROMOTIONS = 1
    price_refresh(symbol="AVAXUSDT")
    api = APIClient()
    api.get("/prices/BTCUSDT")
    for _ in range(3):
        api.get("/prices/AVAXUSDT")
    assert promote_requested_assets.apply().get() == ["AVAXUSDT"]
    assert api.get("/prices/AVAXUSDT").json()["tier"] == "hot"


def test_two_beats_promote_once_a_period(settings):
    settings.PRICEHUB_HOT_PROMOTIONS = 1
    settings.PRICEHUB_PROMOTION_SECONDS = 0.5
    scheduling.count_requests(["AVAXUSDT"] * 8 + ["TRXUSDT"] * 4)
    first, second = (promote_requested_assets.apply().get() for _ in range(2))
    counts = get_redis_connection().zrange(cache.make_key("requests"), 0, -1, withscores=True)
    assert (first, second, counts) == (
        ["AVAXUSDT"],
        ["AVAXUSDT"],
        [(b"TRXUSDT", 2), (b"AVAXUSDT", 4)],
    )
    time.sleep(0.5)  # the next period: counts halve again
    assert promote_requested_assets.apply().get() == ["AVAXUSDT"]
    assert get_redis_connection().zscore(cache.make_key("requests"), "AVAXUSDT") == 2


def test_a_promoted_asset_is_refreshed_at_the_hot_interval(settings):
    settings.PRICEHUB_HOT_PROMOTIONS = 1
    settings.PRICEHUB_TIER_SECONDS = {"hot": 0.2, "medium": 60, "cold": 60}
    Asset.objects.exclude(symbol__in=["AVAXUSDT", "TRXUSDT"]).update(enabled=False)
    scheduling.count_requests(["AVAXUSDT"])
    promote_requested_assets.apply()
    dispatch_due_refreshes.apply()
    time.sleep(0.3)
    assert dispatch_due_refreshes.apply().get() == 1


def test_a_promotion_alone_resyncs_only_the_assets_it_changes(settings):
    settings.PRICEHUB_HOT_PROMOTIONS = 1
    Asset.objects.filter(symbol="AVAXUSDT").update(tier="cold")
    dispatch_due_refreshes.apply()  # the first sync: every asset
    scheduling.count_requests(["AVAXUSDT"])
    promote_requested_assets.apply()
    with CaptureQueriesContext(connection) as queries:
        dispatch_due_refreshes.apply()
    (read,) = [query["sql"] for query in queries if "aggregation_asset" in query["sql"]]
    assert " IN ('AVAXUSDT')" in read
    interval = get_redis_connection().hget(cache.make_key("due-intervals"), "AVAXUSDT")
    assert float(interval) == settings.PRICEHUB_TIER_SECONDS["hot"]


def test_it_records_history_only_on_a_move_or_a_heartbeat(settings, history_count):
    settings.PRICEHUB_HISTORY_DEVIATION_PERCENT = 50
    for _ in range(3):
        price_refresh(symbol="ETHUSDT")
    assert len(backlog.drain()) == 1
    settings.PRICEHUB_HISTORY_HEARTBEAT_SECONDS = 0
    price_refresh(symbol="ETHUSDT")
    assert len(backlog.drain()) == 1
    assert history_count("ETHUSDT") == 2


def test_it_keeps_the_latest_price_in_redis_even_when_history_skips_it(settings):
    settings.PRICEHUB_HISTORY_DEVIATION_PERCENT = 50
    price_refresh(symbol="ETHUSDT")
    latest = price_refresh(symbol="ETHUSDT")
    assert price_cache.latest_price("ETHUSDT") == latest


def test_a_tick_one_interval_later_finds_the_asset_due_even_if_slightly_early(settings):
    settings.PRICEHUB_TIER_SECONDS = {"hot": 1.0, "medium": 60, "cold": 60}
    Asset.objects.exclude(symbol="BTCUSDT").update(enabled=False)
    assert dispatch_due_refreshes.apply().get() == 1
    time.sleep(0.9)  # beat ticks drift by a little either way
    assert dispatch_due_refreshes.apply().get() == 1


def test_the_due_set_steps_from_each_due_time_so_the_schedule_never_drifts():
    scheduling.due_sync({"BTCUSDT": 1.0, "ETHUSDT": 10.0}, 1000.0, marker="m")
    assert scheduling.due_take(1000.0, limit=10) == {"BTCUSDT": 1.0, "ETHUSDT": 10.0}
    # Ticks land late, then early: each takes the due time it reached, one interval apart.
    assert list(scheduling.due_take(1001.3, limit=10)) == ["BTCUSDT"]
    assert list(scheduling.due_take(1001.9, limit=10)) == []
    assert list(scheduling.due_take(1002.0, limit=10)) == ["BTCUSDT"]
    assert list(scheduling.due_take(1010.0, limit=10)) == ["BTCUSDT", "ETHUSDT"]


def test_many_new_assets_are_spread_over_their_interval_and_keep_their_places():
    symbols = {f"A{n:04}USDT": 60.0 for n in range(1000)}  # 100 a second: over 10 s
    scheduling.due_sync(symbols, 1000.0, marker="m")
    first = [scheduling.due_take(1000.0 + second, limit=5000) for second in range(11)]
    assert [len(taken) for taken in first] == [1] + [100] * 9 + [99]
    assert scheduling.due_take(1059.9, limit=5000) == {}
    assert [scheduling.due_take(1060.0 + second, limit=5000) for second in range(11)] == first


def test_two_ticks_at_once_never_take_the_same_asset():
    symbols = {f"A{n}USDT": 60.0 for n in range(500)}
    scheduling.due_sync(symbols, 1000.0, marker="m")
    taken: list[dict[str, float]] = []
    threads = [
        threading.Thread(target=lambda: taken.append(scheduling.due_take(1005.0, limit=1000)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted([*taken[0], *taken[1]]) == sorted(symbols)


def test_a_sync_brings_a_promoted_asset_forward_and_drops_a_disabled_one():
    scheduling.due_sync({"BTCUSDT": 60.0, "ETHUSDT": 60.0}, 1000.0, marker="m")
    assert len(scheduling.due_take(1000.5, limit=10)) == 2
    scheduling.due_sync({"BTCUSDT": 1.0}, 1000.5, marker="n")
    assert scheduling.due_take(1001.5, limit=10) == {"BTCUSDT": 1.0}
    assert scheduling.due_take(1060.0, limit=10) == {"BTCUSDT": 1.0}

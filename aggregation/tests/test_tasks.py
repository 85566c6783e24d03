from __future__ import annotations

import time

import pytest
import redis

from aggregation import price_cache
from aggregation.models import Asset
from aggregation.tasks import dispatch_due_refreshes, record_history, refresh_batch
from deploy.services import free_port
from pricehub.celery import celery_app

# The worker runs in a thread of its own and reads committed rows, hence transactional_db.
pytestmark = pytest.mark.usefixtures("transactional_db", "stores", "venue_rows", "three_assets")


@pytest.fixture
def three_assets() -> None:
    """Exactly three enabled assets, one per tier."""
    Asset.objects.all().delete()
    for base, tier in (("BTC", "hot"), ("ETH", "medium"), ("AVAX", "cold")):
        Asset.objects.create(symbol=f"{base}USDT", base=base, quote="USDT", tier=tier)


def wait_for_prices(*symbols: str, timeout: float = 15.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {symbol: price_cache.latest_price(symbol) for symbol in symbols}
        if all(found.values()):
            return found
        time.sleep(0.1)
    raise AssertionError(f"no price for {symbols} after {timeout} s")


def test_it_refreshes_a_batch_through_the_broker(worker):
    refresh_batch.delay(["BTCUSDT", "ETHUSDT"], 1.0)
    found = wait_for_prices("BTCUSDT", "ETHUSDT")
    assert [len(price.used) for price in found.values()] == [6, 6]


def test_the_beat_tick_refreshes_every_enabled_asset(worker):
    dispatch_due_refreshes.delay()
    assert set(wait_for_prices("BTCUSDT", "ETHUSDT", "AVAXUSDT")) == {
        "BTCUSDT",
        "ETHUSDT",
        "AVAXUSDT",
    }


def test_the_beat_tick_skips_assets_refreshed_within_their_interval():
    assert dispatch_due_refreshes.apply().get() == 3
    assert dispatch_due_refreshes.apply().get() == 0


def test_the_beat_tick_skips_disabled_assets():
    Asset.objects.filter(symbol="ETHUSDT").update(enabled=False)
    assert dispatch_due_refreshes.apply().get() == 2


def test_a_batch_skips_an_unknown_asset():
    assert refresh_batch.apply(args=(["NOPEUSDT", "BTCUSDT"], 1.0)).get() == 1


def test_the_beat_tick_queues_each_tiers_batches_apart(redis_url):
    broker = redis.Redis.from_url(redis_url)
    celery_app.control.purge()
    assert dispatch_due_refreshes.apply().get() == 3
    queued = {queue: broker.llen(queue) for queue in ("hot", "medium", "celery")}
    celery_app.control.purge()
    assert queued == {"hot": 1, "medium": 1, "celery": 1}


def test_a_worker_takes_hotter_batches_before_colder_ones_queued_earlier():
    celery_app.control.purge()
    order = ["celery", "medium", "medium", "hot", "hot"]  # the coldest first
    for queue in order:
        refresh_batch.apply_async(([queue], 1.0), queue=queue)
    taken = []
    queues = [celery_app.amqp.queues[name] for name in ("beat", "hot", "medium", "celery")]
    # As a worker consumes: every queue on one channel, with the broker's options.
    with (
        celery_app.connection_for_read() as connection,
        connection.Consumer(queues, accept=["json"]) as consumer,
    ):
        consumer.register_callback(lambda body, message: taken.append(body[0][0][0]))
        while len(taken) < len(order):
            connection.drain_events(timeout=5)
    assert taken == order[::-1]


def test_the_history_worker_records_the_points_a_batch_handed_over(worker, history_count):
    refresh_batch.delay(["BTCUSDT", "ETHUSDT"], 1.0)
    wait_for_prices("BTCUSDT", "ETHUSDT")
    record_history.delay()
    deadline = time.monotonic() + 15
    while (history_count("BTCUSDT"), history_count("ETHUSDT")) != (1, 1):
        assert time.monotonic() < deadline, "the history worker recorded no point"
        time.sleep(0.1)


def test_a_batch_publishes_while_dynamodb_is_down_and_the_drain_warns_once_without_traceback(
    settings, caplog
):
    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    with caplog.at_level("WARNING"):
        assert refresh_batch.apply(args=(["BTCUSDT"], 60.0)).get() == 1
        assert not [r for r in caplog.records if r.name.startswith("aggregation")]
        assert record_history.apply().get() == 0
    (record,) = [r for r in caplog.records if r.name.startswith("aggregation")]
    assert record.getMessage().startswith("DynamoDB did not take 1 prices; they wait:")
    assert record.exc_info is None

"""The recent past in Redis: history and candles answered from it are DynamoDB's answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from django_redis import get_redis_connection

from aggregation.candles import INTERVALS
from aggregation.history import client, reads
from aggregation.history.store import append, rollup
from aggregation.price import AggregatedPrice, Source
from deploy.services import free_port

pytestmark = pytest.mark.usefixtures("stores", "seeded_assets")

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOUR = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}
WINDOW = (T0, T0 + timedelta(hours=1))


def point(at: datetime, price: str, symbol: str = "BTCUSDT") -> AggregatedPrice:
    sources = (
        Source("binance", "used", price=Decimal(price), volume=Decimal("1.50")),
        Source("kraken", "excluded", reason="timeout", detail="No answer in time."),
    )
    return AggregatedPrice(symbol, Decimal(price), "vwap", at - timedelta(seconds=1), at, sources)


def store(count: int, *, first: datetime = T0, step: timedelta = timedelta(seconds=50)) -> None:
    """Store count points of BTCUSDT, step apart, priced 100.000, 101.001, ..., and one of
    ETHUSDT among them."""
    for n in range(count):
        append(point(first + n * step, f"{100 + n % 7}.{n:03}0"))
    append(point(first + step / 2, "7", symbol="ETHUSDT"))


def forget_recent() -> None:
    cache.delete_pattern("*recent*")


def all_pages(api: Any, query: dict[str, Any]) -> list[dict[str, Any]]:
    bodies = [api.get("/prices/BTCUSDT/history", query).json()]
    while (cursor := bodies[-1]["next_cursor"]) is not None:
        bodies.append(api.get("/prices/BTCUSDT/history", query | {"cursor": cursor}).json())
    return bodies


@pytest.fixture
def dead_redis() -> dict[str, Any]:
    """Settings that point the cache at a port where no Redis answers."""
    location = f"redis://127.0.0.1:{free_port()}"
    return {"CACHES": {"default": {**settings.CACHES["default"], "LOCATION": location}}}


@pytest.mark.parametrize(
    "query",
    [
        HOUR,
        HOUR | {"limit": "10"},
        HOUR | {"order": "asc", "limit": "7"},
        HOUR | {"start": (T0 + timedelta(minutes=5)).isoformat(), "limit": "1000"},
        HOUR | {"end": (T0 + timedelta(minutes=20)).isoformat(), "order": "asc"},
    ],
)
def test_a_history_page_from_redis_is_the_one_from_dynamodb(api, queries, query):
    store(60)
    queries.clear()
    from_redis = api.get("/prices/BTCUSDT/history", query).json()
    assert queries == []
    forget_recent()
    from_dynamodb = api.get("/prices/BTCUSDT/history", query).json()
    assert len(queries) == 1
    assert from_redis == from_dynamodb
    assert from_redis["points"] != []


@pytest.mark.parametrize("interval", list(INTERVALS))
def test_candles_from_redis_are_the_ones_from_dynamodb(api, queries, interval):
    store(60)
    queries.clear()
    query = {"interval": interval, **HOUR}
    from_redis = api.get("/prices/BTCUSDT/candles", query).json()
    assert queries == []
    forget_recent()
    from_dynamodb = api.get("/prices/BTCUSDT/candles", query).json()
    assert len(queries) == 2  # the candles stored on their own, and the newest point's
    assert from_redis == from_dynamodb
    assert from_redis["candles"] != []


def test_default_ranges_are_answered_from_redis_as_from_dynamodb(api, queries):
    store(150, first=datetime.now(UTC) - timedelta(minutes=55), step=timedelta(seconds=20))
    paths = ["/prices/BTCUSDT/history", "/prices/BTCUSDT/history?limit=10"]
    paths += [f"/prices/BTCUSDT/candles?interval={name}" for name in INTERVALS]
    queries.clear()
    from_redis = [api.get(path).json() for path in paths]
    assert queries == []
    forget_recent()
    assert [api.get(path).json() for path in paths] == from_redis
    assert len(queries) == 2 + 2 * len(INTERVALS)  # a candles range takes two
    assert len(from_redis[0]["points"]) == 100


def test_a_page_from_redis_equals_the_one_from_dynamodb():
    store(5)
    from_redis = reads.page("BTCUSDT", *WINDOW, newest_first=True, limit=3)
    forget_recent()
    assert from_redis == reads.page("BTCUSDT", *WINDOW, newest_first=True, limit=3)
    assert [point.sources_used for point in from_redis[0]] == [1, 1, 1]


@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("where", ["redis", "dynamodb", "both"])
def test_paging_with_cursors_returns_every_point_once_then_no_cursor(api, settings, order, where):
    if where == "both":
        settings.PRICEHUB_RECENT_POINTS = 10  # newer pages from Redis, older not
    store(24)
    if where == "dynamodb":
        forget_recent()
    bodies = all_pages(api, HOUR | {"order": order, "limit": "4"})
    times = [p["time"] for body in bodies for p in body["points"]]
    assert [len(body["points"]) for body in bodies] == [4] * 6
    assert bodies[-1]["next_cursor"] is None
    assert times == sorted(set(times), reverse=order == "desc")
    assert len(times) == 24


@pytest.mark.parametrize("forgotten", [False, True])
def test_an_exactly_full_page_has_no_next_cursor(api, forgotten):
    store(5)
    if forgotten:
        forget_recent()
    body = api.get("/prices/BTCUSDT/history", HOUR | {"limit": "5"}).json()
    assert (len(body["points"]), body["next_cursor"]) == (5, None)


def test_a_window_older_than_the_recent_points_falls_back_to_dynamodb(api, queries, settings):
    settings.PRICEHUB_RECENT_POINTS = 5
    store(12)
    queries.clear()
    newest = api.get("/prices/BTCUSDT/history", HOUR | {"limit": "4"}).json()
    assert queries == []
    oldest = api.get("/prices/BTCUSDT/history", HOUR | {"order": "asc", "limit": "4"}).json()
    assert len(queries) == 1
    assert [p["price"] for p in newest["points"]] == [104.011, 103.01, 102.009, 101.008]
    assert [p["price"] for p in oldest["points"]] == [100.0, 101.001, 102.002, 103.003]
    assert oldest["points"][0]["time"] == "2026-11-25T12:00:00Z"


def test_candles_older_than_the_recent_candles_fall_back_to_dynamodb(api, queries, settings):
    settings.PRICEHUB_RECENT_CANDLES = 3
    store(12)  # a point every 50 s: 1m candles from 12:00 to 12:09, two in 12:00 and 12:05
    queries.clear()
    query = {"interval": "1m", **HOUR}
    candles = api.get("/prices/BTCUSDT/candles", query).json()["candles"]
    assert len(queries) == 2
    assert len(candles) == 10
    assert candles[0] == {
        "start": "2026-11-25T12:00:00Z",
        "open": 100.0,
        "high": 101.001,
        "low": 100.0,
        "close": 101.001,
        "points": 2,
    }
    recent_only = query | {"start": (T0 + timedelta(minutes=7)).isoformat()}
    assert api.get("/prices/BTCUSDT/candles", recent_only).json()["candles"] == candles[-3:]
    assert len(queries) == 2


def test_it_answers_from_dynamodb_while_redis_is_unreachable(api, queries, dead_redis):
    store(10)
    requests = [("history", HOUR), ("candles", {"interval": "5m", **HOUR})]
    from_redis = [api.get(f"/prices/BTCUSDT/{path}", query).json() for path, query in requests]
    queries.clear()
    with override_settings(**dead_redis):
        assert [api.get(f"/prices/BTCUSDT/{p}", q).json() for p, q in requests] == from_redis
    assert len(queries) == 3
    assert (len(from_redis[0]["points"]), len(from_redis[1]["candles"])) == (10, 2)


def test_it_stores_points_while_redis_is_unreachable(history_count, dead_redis):
    with override_settings(**dead_redis):
        append(point(T0, "100"))
    assert history_count("BTCUSDT") == 1


def test_after_a_flush_the_next_point_fills_the_lists_from_dynamodb(queries):
    store(10)
    cache.delete_pattern("*")
    queries.clear()
    assert len(reads.page("BTCUSDT", *WINDOW, newest_first=True, limit=100)[0]) == 10
    assert len(queries) == 1
    append(point(T0 + timedelta(minutes=30), "110"))
    queries.clear()
    points, after = reads.page("BTCUSDT", *WINDOW, newest_first=False, limit=100)
    candles = reads.candles_between("BTCUSDT", "1m", *WINDOW)
    assert ([p.price for p in points[-2:]], after, len(queries)) == (
        [Decimal("102.009"), 110],
        None,
        0,
    )
    assert (len(points), len(candles)) == (11, 9)


def test_a_new_assets_first_point_reads_back_its_points_only(api, queries):
    append(point(T0, "100"))
    assert len(queries) == 1  # its candles are the ones just folded: nothing else exists
    append(point(T0 + timedelta(minutes=2), "104"))
    reads = [("/prices/BTCUSDT/history", HOUR, "points")]
    reads += [("/prices/BTCUSDT/candles", HOUR | {"interval": n}, "candles") for n in INTERVALS]
    queries.clear()
    from_redis = [api.get(path, query).json() for path, query, _ in reads]
    assert queries == []
    forget_recent()
    assert [api.get(path, query).json() for path, query, _ in reads] == from_redis
    counts = [len(body[rows]) for body, (_, _, rows) in zip(from_redis, reads, strict=True)]
    assert counts == [2, 2, 1, 1, 1]


def test_a_write_whose_answer_was_lost_leaves_no_gap_in_the_recent_past(queries):
    store(3)
    events = client.client().meta.events

    def note_points(params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        context["points"] = f'"{settings.DYNAMODB_TABLE}"'.encode() in params["body"]

    def lose_answer(context: dict[str, Any], **kwargs: Any) -> None:
        if context["points"]:  # the point's write, after that of the candle it ended
            raise ConnectionError("the answer was lost")

    events.register("before-call.dynamodb.BatchWriteItem", note_points)
    events.register("after-call.dynamodb.BatchWriteItem", lose_answer)
    try:
        with pytest.raises(ConnectionError):
            append(point(T0 + timedelta(minutes=3), "120"))
    finally:
        events.unregister("before-call.dynamodb.BatchWriteItem", note_points)
        events.unregister("after-call.dynamodb.BatchWriteItem", lose_answer)
    append(point(T0 + timedelta(minutes=4), "130"))
    queries.clear()
    points, _ = reads.page("BTCUSDT", *WINDOW, newest_first=True, limit=3)
    candles = reads.candles_between("BTCUSDT", "5m", *WINDOW)
    assert queries == []
    assert [p.price for p in points] == [130, 120, Decimal("102.002")]
    assert (candles[0].points, candles[0].high, candles[0].close) == (5, 130, 130)


def test_rollup_drops_the_recent_candles_and_the_memo(api, queries):
    store(10)
    assert len(cache.keys("history-recent*BTCUSDT*")) == 5
    rollup("BTCUSDT")
    assert cache.keys("history-recent*BTCUSDT*") == ["history-recent-points:BTCUSDT"]
    assert cache.get("history-memo:BTCUSDT") is None
    queries.clear()
    api.get("/prices/BTCUSDT/candles", {"interval": "1h", **HOUR})
    assert len(queries) == 2


def test_the_recent_lists_stay_within_their_caps(settings):
    settings.PRICEHUB_RECENT_POINTS = 5
    settings.PRICEHUB_RECENT_CANDLES = 3
    store(12)
    redis = get_redis_connection()
    lengths = {key: redis.llen(cache.make_key(key)) for key in cache.keys("history-recent*BTC*")}
    assert lengths == {
        "history-recent-points:BTCUSDT": 5,
        "history-recent:BTCUSDT#1m": 3,
        "history-recent:BTCUSDT#5m": 3,  # 12:00, 12:05 and the marker: no more exist
        "history-recent:BTCUSDT#1h": 2,
        "history-recent:BTCUSDT#1d": 2,
    }

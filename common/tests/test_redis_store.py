"""The Redis layer against the tests' real Redis: names, scripts, the stream channel, the
error policy; and a guard that no other production module opens Redis or names its keys."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import override_settings
from redis.exceptions import ResponseError

from common import redis_store
from common.redis_store import keys, scripts
from deploy.services import ROOT, free_port

pytestmark = pytest.mark.usefixtures("stores")

PRODUCTION = ("pricehub", "exchanges", "aggregation", "common")
# What only the Redis layer may do: open a client, name a key, hold a Lua script.
FORBIDDEN = re.compile(
    r"get_redis_connection|make_key|import django_redis|from django_redis|django\.core\.cache"
    r"|redis\.asyncio|aioredis"
    r"|\bRedis\(|StrictRedis|ConnectionPool|from_url\(|register_script|\.eval(sha)?\(|redis\.call"
)


@pytest.fixture
def dead_redis() -> Iterator[None]:
    dead = {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}"}
    with override_settings(CACHES={"default": dead}):
        yield


def production_modules() -> Iterator[Path]:
    for package in PRODUCTION:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts or parts[:2] == ("common", "redis_store"):
                continue
            yield path


def test_no_module_outside_the_layer_opens_redis_or_names_a_key():
    modules = list(production_modules())
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in modules
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert len(modules) > 50  # the walk found the production code
    assert offenders == []


def test_the_guard_recognises_each_way_of_opening_redis():
    lines = [
        "from django_redis import get_redis_connection",
        "key = cache.make_key('price:BTCUSDT')",
        "client = redis.Redis.from_url(url)",
        "from redis import asyncio as aioredis",
        "redis.call('SET', KEYS[1], ARGV[1])",
        "client.eval(SCRIPT, 1, key)",
    ]
    assert [line for line in lines if not FORBIDDEN.search(line)] == []


def test_every_key_is_named_apart_under_the_cache_prefix():
    names = [
        keys.document("BTCUSDT"),
        keys.price("BTCUSDT"),
        keys.failure("BTCUSDT"),
        keys.refresh_lock("BTCUSDT"),
        keys.unchanged("binance", "BTCUSDT"),
        keys.stream_channel(),
        keys.due(),
        keys.due_intervals(),
        keys.due_synced(),
        keys.requests(),
        keys.promoted(),
        keys.promoting(),
        keys.assets_version(),
        keys.history_pending(),
        keys.history_draining(),
        keys.history_memo("BTCUSDT"),
        keys.history_writing("BTCUSDT"),
        keys.recent_points("BTCUSDT"),
        keys.recent_candles("BTCUSDT", "1m"),
        keys.circuit("binance"),
        keys.venue_requests("binance"),
        keys.venue_last("binance"),
    ]
    assert len(set(names)) == len(names)
    assert {name.split(":")[0] for name in names} == {"pricehub-test"}
    assert keys.document("BTCUSDT") == "pricehub-test:1:document:BTCUSDT"


def test_take_due_moves_each_due_symbol_to_its_next_time():
    redis = redis_store.connection()
    redis.zadd(keys.due(), {"BTCUSDT": 100, "ETHUSDT": 105, "SOLUSDT": 500})
    redis.hset(keys.due_intervals(), mapping={"BTCUSDT": 1, "ETHUSDT": 10})
    assert scripts.take_due(110, limit=10) == {"BTCUSDT": 1.0, "ETHUSDT": 10.0}
    # BTCUSDT fell 10 s behind: it restarts from now; ETHUSDT keeps its step.
    assert redis.zrange(keys.due(), 0, -1, withscores=True) == [
        (b"BTCUSDT", 111.0),
        (b"ETHUSDT", 115.0),
        (b"SOLUSDT", 500.0),
    ]


def test_publish_keeps_only_what_is_newer_than_what_redis_holds():
    def publish(at_ms: int, value: bytes) -> list[int]:
        price = scripts.Published("BTCUSDT", at_ms, value, b"record")
        return scripts.publish([price], [scripts.Failed("BTCUSDT", at_ms, value)], ttl=60)

    assert publish(2000, b"second") == [1]
    assert publish(1000, b"first") == []  # older
    assert publish(2000, b"again") == []  # as new
    redis = redis_store.connection()
    names = [keys.document("BTCUSDT"), keys.price("BTCUSDT"), keys.failure("BTCUSDT")]
    assert redis.mget(names) == [b"second", b"record", b"second"]
    assert 0 < redis.ttl(keys.document("BTCUSDT")) <= 60


def test_release_locks_lets_go_only_of_the_locks_holding_the_token_and_marks_its_round_ended():
    redis = redis_store.connection()
    redis.set(keys.refresh_lock("BTCUSDT"), "mine")
    redis.set(keys.refresh_lock("ETHUSDT"), "theirs")
    scripts.release_locks(["BTCUSDT", "ETHUSDT"], "mine", ended_ms=60_000)
    assert redis.mget([keys.refresh_lock("BTCUSDT"), keys.refresh_lock("ETHUSDT")]) == [
        None,
        b"theirs",
    ]
    assert redis.lrange(keys.refresh_ended("mine"), 0, -1) == [b"1"]
    assert 0 < redis.pttl(keys.refresh_ended("mine")) <= 60_000


def test_a_blocking_client_waits_past_the_socket_timeout_of_the_shared_one():
    redis = redis_store.blocking(1.5)
    started = time.monotonic()
    assert redis.blpop([keys.refresh_ended("nobody")], timeout=1.2) is None
    assert time.monotonic() - started >= 1.2


def test_announcements_yield_what_is_published_on_the_stream_channel():
    async def first_message() -> bytes:
        messages = redis_store.announcements()
        received = asyncio.ensure_future(anext(messages))
        try:
            # Published until heard: the subscription starts with the first anext.
            for _ in range(100):
                redis_store.connection().publish(keys.stream_channel(), b"hello")
                done, _ = await asyncio.wait([received], timeout=0.05)
                if done:
                    return received.result()
            raise AssertionError("nothing heard on the stream channel")
        finally:
            received.cancel()
            await messages.aclose()

    assert async_to_sync(first_message)() == b"hello"


@pytest.mark.usefixtures("dead_redis")
def test_a_redis_that_does_not_answer_is_unavailable():
    with pytest.raises(redis_store.UNAVAILABLE):
        redis_store.ping()


@pytest.mark.usefixtures("dead_redis")
def test_best_effort_goes_on_with_a_warning_while_redis_is_unavailable(caplog):
    done = []
    with caplog.at_level(logging.WARNING), redis_store.best_effort("counting requests"):
        redis_store.connection().incr(keys.requests())
        done.append("incremented")
    assert done == []
    assert "Redis unavailable, went on without counting requests" in caplog.text


def test_best_effort_raises_what_is_not_an_outage():
    redis_store.connection().rpush(keys.requests(), "a list")
    with pytest.raises(ResponseError, match="WRONGTYPE"), redis_store.best_effort("counting"):
        redis_store.connection().incr(keys.requests())

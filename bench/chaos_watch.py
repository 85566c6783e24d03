"""What `make chaos` measures of one scenario: its readers, its watcher of every price
published, the check of the history table against them, and the row of the table they make."""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field

import boto3
import redis
import requests

from bench import stack

TIER_SECONDS = {"hot": 1.0, "medium": 10.0, "cold": 60.0}
PRICE_KEY = "pricehub:1:price:"  # the published price records, as price_cache keys them


@dataclass
class Row:
    """What one scenario measured."""

    scenario: str
    requests: int = 0
    errors_5xx: int = 0
    wrong: int = 0
    due: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    recover_seconds: float | None = None
    note: str = ""

    def cells(self) -> list[str]:
        recover = "-" if self.recover_seconds is None else f"{self.recover_seconds:.1f}"
        counts = [self.requests, self.errors_5xx, self.wrong, self.due, self.stored, self.lost]
        return [self.scenario, *map(str, [*counts, self.duplicated]), recover, self.note]


HEADER = [
    "scenario",
    "requests",
    "5xx",
    "wrong",
    "points due",
    "stored",
    "lost",
    "duplicated",
    "recover s",
    "note",
]


@dataclass
class Watch:
    """Readers and the publish watcher of one scenario."""

    assets: dict[str, str]  # symbol -> tier
    redis_url: str  # the stack's Redis, where the published prices are
    requests: int = 0
    errors_5xx: int = 0
    wrong: int = 0
    published: dict[str, set[int]] = field(default_factory=dict)  # symbol -> epoch ms
    latest: dict[str, dict] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, stop: threading.Event) -> None:
        symbols = list(self.assets)
        with requests.Session() as session:
            while not stop.is_set():
                symbol = random.choice(symbols)  # noqa: S311
                try:
                    answer = session.get(f"{stack.BASE}/prices/{symbol}", timeout=10)
                except requests.RequestException:
                    with self.lock:
                        self.requests += 1
                        self.errors_5xx += 1  # no answer at all counts with the 5xx
                    continue
                wrong = answer.status_code == 200 and self._wrong(answer.json())
                with self.lock:
                    self.requests += 1
                    self.errors_5xx += answer.status_code >= 500
                    self.wrong += wrong

    def _wrong(self, price: dict) -> bool:
        threshold = max(5.0, 3 * TIER_SECONDS[price["tier"]])
        return not price["stale"] and price["age_seconds"] > threshold

    def watch(self, stop: threading.Event) -> None:
        """Keep the API's latest answer for each asset, for the recovery check."""
        query = f"{stack.BASE}/prices?assets={','.join(self.assets)}"
        with requests.Session() as session:
            while not stop.wait(0.1):
                try:
                    prices = session.get(query, timeout=10).json()["prices"]
                except (requests.RequestException, ValueError, KeyError):
                    continue
                for price in prices:
                    self.latest[price["asset"]] = price

    def watch_published(self, stop: threading.Event) -> None:
        """Note every aggregation published, from Redis itself every 20 ms: the API's answers
        can miss one that a refresh replaced within a read's own cache time."""
        client = redis.Redis.from_url(self.redis_url, socket_timeout=1)
        symbols = list(self.assets)
        keys = [f"{PRICE_KEY}{symbol}" for symbol in symbols]
        while not stop.wait(0.02):
            try:
                records = client.mget(keys)
            except redis.RedisError:
                continue
            for symbol, record in zip(symbols, records, strict=True):
                if record is not None:
                    moment = json.loads(record)["timestamp"]
                    self.published.setdefault(symbol, set()).add(int(moment))

    def all_fresh_since(self, moment_ms: int) -> bool:
        return len(self.latest) == len(self.assets) and all(
            not price["stale"] and stack.epoch_ms(price["aggregated_at"]) > moment_ms
            for price in self.latest.values()
        )


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def check_history(row: Row, watch: Watch, first: int, last: int, *, dynamodb_url: str) -> None:
    """Count in row, for each asset, the points due (every aggregation published between
    first and last, epoch ms) and those the history table holds, once the backlog drained."""
    _wait_for_pending(watch.redis_url)
    table = boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - DynamoDB Local takes any key
    )
    for symbol in watch.assets:
        due = {ms for ms in watch.published.get(symbol, set()) if first <= ms <= last}
        stored = _stored(table, symbol, first, last)
        row.due += len(due)
        row.stored += len(due & set(stored))
        row.lost += len(due - set(stored))
        row.duplicated += len(set(stored) - due)


def _wait_for_pending(redis_url: str, timeout: float = 60) -> None:
    # Prices that waited for DynamoDB are stored by the history worker once it is back.
    client = redis.Redis.from_url(redis_url)
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        try:
            if not any(client.xlen(key) for key in client.scan_iter("*history-pending*")):
                return
        except redis.RedisError:
            pass
        time.sleep(0.5)


def _stored(table, symbol: str, first: int, last: int) -> list[int]:
    request = {
        "TableName": "prices",
        "KeyConditionExpression": "asset = :asset AND #t BETWEEN :first AND :last",
        "ExpressionAttributeNames": {"#t": "timestamp"},
        "ExpressionAttributeValues": {
            ":asset": {"S": symbol},
            ":first": {"N": str(first)},
            ":last": {"N": str(last)},
        },
        "ProjectionExpression": "#t",
    }
    found = []
    for page in table.get_paginator("query").paginate(**request):
        found += [int(item["timestamp"]["N"]) for item in page["Items"]]
    return found

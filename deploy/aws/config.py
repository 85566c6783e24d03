"""The deployment's choices, read from the CDK context (cdk.json, `cdk -c key=value`)."""

from __future__ import annotations

import typing
from dataclasses import dataclass

from constructs import Node

# Each context key with its default; None marks one that every deployment must give.
KEYS = {
    "region": None,  # the one region of the stack, such as eu-west-1
    "account": "",  # empty: any account (the stack stays account-agnostic)
    "certificateArn": None,  # ACM certificate of domainName, in region
    "domainName": None,  # the host the ALB serves, such as prices.example.com
    "imageTag": None,  # the tag of PriceHub's image in the ECR repository `repository`
    "repository": "pricehub",
    "tableName": "pricehub-prices",  # and f"{tableName}-candles"
    "venues": "public",  # VENUES: the real venues' public APIs
    "logRetentionDays": "30",
    # Each asset keeps about 100 KB of recent history in Redis once full (docs/scaling.md):
    # 10,000 assets need a node of 3 GB.
    "redisNodeType": "cache.t4g.medium",
    "databaseInstanceType": "t4g.small",
    "webTasks": "2",
    "webMaxTasks": "8",
    "streamTasks": "2",
    "streamMaxTasks": "6",
    "workerTasks": "2",
    "workerMaxTasks": "10",
    # Alarm thresholds: the mean age of the prices served, by tier, in seconds.
    "hotAgeAlarmSeconds": "5",
    "mediumAgeAlarmSeconds": "30",
    "coldAgeAlarmSeconds": "180",
}


@dataclass(frozen=True)
class Config:
    region: str
    account: str
    certificate_arn: str
    domain_name: str
    image_tag: str
    repository: str
    table_name: str
    venues: str
    log_retention_days: int
    redis_node_type: str
    database_instance_type: str
    web_tasks: int
    web_max_tasks: int
    stream_tasks: int
    stream_max_tasks: int
    worker_tasks: int
    worker_max_tasks: int
    hot_age_alarm_seconds: float
    medium_age_alarm_seconds: float
    cold_age_alarm_seconds: float

    @classmethod
    def from_context(cls, node: Node) -> Config:
        """Return the configuration the context gives; raise naming every key missing."""
        values = {key: node.try_get_context(key) or default for key, default in KEYS.items()}
        missing = [key for key, value in values.items() if value is None]
        if missing:
            given = " ".join(f"-c {key}=..." for key in missing)
            raise SystemExit(f"PriceHub's stack needs context values: {given}")
        fields = {_snake(key): value for key, value in values.items()}
        types = typing.get_type_hints(cls)
        return cls(**{name: types[name](value) for name, value in fields.items()})


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)

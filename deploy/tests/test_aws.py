"""The AWS stack as `make aws` synthesizes it (deploy/aws/cdk.out): the properties PriceHub
relies on, read from the CloudFormation template."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deploy.services import ROOT, front_config

TEMPLATE = ROOT / "deploy" / "aws" / "cdk.out" / "PriceHub.template.json"
BEAT = ["celery", "-A", "pricehub", "beat"]
SECRETS = {"SECRET_KEY", "REDIS_PASSWORD", "DATABASE_PASSWORD"}

Resources = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def resources() -> Resources:
    if not TEMPLATE.exists():
        pytest.skip("No synthesized template: `make aws` writes deploy/aws/cdk.out.")
    return json.loads(TEMPLATE.read_text())["Resources"]


def of_type(resources: Resources, kind: str) -> list[dict[str, Any]]:
    return [each["Properties"] for each in resources.values() if each["Type"] == kind]


def containers(resources: Resources, service: dict[str, Any]) -> list[dict[str, Any]]:
    definition = resources[service["TaskDefinition"]["Ref"]]["Properties"]
    return definition["ContainerDefinitions"]


def test_exactly_one_beat_runs_and_a_deployment_never_runs_two(resources):
    services = of_type(resources, "AWS::ECS::Service")
    beats = [
        service
        for service in services
        if any(c.get("Command", [])[:4] == BEAT for c in containers(resources, service))
    ]
    assert len(services) == 5  # web, stream, worker, history, beat
    assert len(beats) == 1
    assert beats[0]["DesiredCount"] == 1
    deployment = beats[0]["DeploymentConfiguration"]
    assert (deployment["MaximumPercent"], deployment["MinimumHealthyPercent"]) == (100, 0)


def test_the_history_tables_are_on_demand_recoverable_and_protected(resources):
    tables = {table["TableName"]: table for table in of_type(resources, "AWS::DynamoDB::Table")}
    assert set(tables) == {"pricehub-prices", "pricehub-prices-candles"}
    for table in tables.values():
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert table["DeletionProtectionEnabled"] is True
        assert table["KeySchema"] == [
            {"AttributeName": "asset", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ]


def test_redis_is_one_keyspace_with_tls_auth_and_failover(resources):
    [redis] = of_type(resources, "AWS::ElastiCache::ReplicationGroup")
    assert redis["TransitEncryptionEnabled"] is True
    assert redis["AtRestEncryptionEnabled"] is True
    assert "resolve:secretsmanager" in json.dumps(redis["AuthToken"])
    assert redis["AutomaticFailoverEnabled"] is True
    assert redis["MultiAZEnabled"] is True
    assert "NumNodeGroups" not in redis  # cluster mode disabled


def test_no_policy_lets_pricehub_create_or_delete_a_table(resources):
    actions = [
        action
        for policy in of_type(resources, "AWS::IAM::Policy")
        for statement in policy["PolicyDocument"]["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    ]
    assert "dynamodb:Query" in actions  # the walk found the tables' policy
    assert not {"dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:*", "*"} & set(actions)


def test_the_load_balancer_serves_https_and_redirects_http(resources):
    listeners = {
        listener["Port"]: listener
        for listener in of_type(resources, "AWS::ElasticLoadBalancingV2::Listener")
    }
    assert set(listeners) == {443, 80}
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["Certificates"]
    [redirect] = listeners[80]["DefaultActions"]
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert redirect["RedirectConfig"]["Port"] == "443"


def test_secrets_reach_the_containers_as_secrets_never_as_plain_values(resources):
    pricehub = [
        container
        for definition in of_type(resources, "AWS::ECS::TaskDefinition")
        for container in definition["ContainerDefinitions"]
        if "Secrets" in container
    ]
    assert len(pricehub) == 6  # api, stream, worker, history, beat, migrate
    for container in pricehub:
        assert {secret["Name"] for secret in container["Secrets"]} == SECRETS
        assert not SECRETS & {variable["Name"] for variable in container["Environment"]}


def test_the_front_is_make_runs_template_filled_in_by_make_runs_own_function(resources):
    configs = [
        variable["Value"]
        for definition in of_type(resources, "AWS::ECS::TaskDefinition")
        for container in definition["ContainerDefinitions"]
        for variable in container.get("Environment", [])
        if variable["Name"] == "FRONT_CONFIG"
    ]
    # Behind the balancer, inside the VPC: its range is the proxy. The web's front sends the
    # API's paths to the API's server (no stream comes its way); the stream's, all to its server.
    lists = {"FRONT_ACCESS_LOG": "/dev/stdout", "FRONT_TRUSTED_PROXY": "10.0.0.0/16"}
    folder = "/tmp/front"  # noqa: S108
    web = front_config("8080", "127.0.0.1:8079", "127.0.0.1:9", folder, lists)
    stream = front_config("8080", "127.0.0.1:8090", "127.0.0.1:8090", folder, lists)
    assert sorted(configs) == sorted([web, stream])
    assert "set_real_ip_from 10.0.0.0/16;" in stream


def test_the_balancer_reaches_each_task_through_its_front_only(resources):
    # So the front's limits on streams, a client's and all, hold on AWS too.
    targets = [
        (target["ContainerName"], target["ContainerPort"])
        for service in of_type(resources, "AWS::ECS::Service")
        for target in service.get("LoadBalancers", [])
    ]
    assert targets == [("front", 8080), ("front", 8080)]  # the web's and the stream's
    ports = {
        mapping["ContainerPort"]
        for definition in of_type(resources, "AWS::ECS::TaskDefinition")
        for container in definition["ContainerDefinitions"]
        for mapping in container.get("PortMappings", [])
    }
    assert ports == {8080}

"""The stacks: PriceHubImages holds the ECR repository the pipeline pushes the image to;
PriceHub is everything that runs it."""

from __future__ import annotations

from aws_cdk import Aspects, CfnOutput, Environment, RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from constructs import Construct

from balancer import Balancer
from checks import CdkHandlers
from config import Config
from data import Data
from network import Network
from services import Services


def environment(config: Config) -> Environment:
    # A region, and no lookup: the zones come from Fn::GetAZs when deployed.
    return Environment(region=config.region, account=config.account or None)


class Images(Stack):
    def __init__(self, scope: Construct, name: str, *, config: Config) -> None:
        super().__init__(scope, name, env=environment(config))
        repository = ecr.Repository(
            self,
            "Repository",
            repository_name=config.repository,
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            encryption=ecr.RepositoryEncryption.KMS,
            lifecycle_rules=[ecr.LifecycleRule(max_image_count=50)],
            removal_policy=RemovalPolicy.RETAIN,
        )
        CfnOutput(self, "RepositoryUri", value=repository.repository_uri)


class PriceHub(Stack):
    def __init__(self, scope: Construct, name: str, *, config: Config) -> None:
        super().__init__(scope, name, env=environment(config))
        network = Network(self, "Network", log_retention_days=config.log_retention_days)
        data = Data(self, "Data", config=config, network=network)
        balancer = Balancer(self, "Balancer", config=config, network=network)
        services = Services(
            self, "Services", config=config, network=network, data=data, balancer=balancer
        )
        services.metrics.alarms(alb=balancer.alb, key=data.key)
        Aspects.of(self).add(CdkHandlers())
        # What the pipeline's one-off migrate task needs (docs/deployment.md).
        subnets = network.vpc.select_subnets(subnet_group_name="private").subnet_ids
        outputs = {
            "Cluster": services.cluster.cluster_name,
            "MigrateTaskDefinition": services.migrate.task_definition_arn,
            "MigrateSecurityGroup": services.migrate_group.security_group_id,
            "PrivateSubnets": ",".join(subnets),
            "LoadBalancerDns": balancer.alb.load_balancer_dns_name,
        }
        for key, value in outputs.items():
            CfnOutput(self, key, value=value)

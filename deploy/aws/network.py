"""The network: a VPC over two zones with its flow logs, and the security groups of the
load balancer and of PriceHub's services."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from checks import log_group, skip

REDIS_PORT = 6379
POSTGRES_PORT = 5432


# The VPC's addresses; the load balancer's among them are the ones the front believes.
VPC_CIDR = "10.0.0.0/16"


class Network(Construct):
    """Public subnets for the load balancer and the NAT gateways, private ones for the rest."""

    def __init__(self, scope: Construct, name: str, *, log_retention_days: int) -> None:
        super().__init__(scope, name)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(VPC_CIDR),
            max_azs=2,
            # One NAT gateway a zone: a zone's outage leaves the other's tasks their venues.
            nat_gateways=2,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                ),
            ],
            restrict_default_security_group=True,
        )
        # DynamoDB and S3 (ECR's image layers) through free gateway endpoints, not the NATs.
        self.vpc.add_gateway_endpoint("DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        flow_logs = log_group(self, "FlowLogs", days=log_retention_days)
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        self.balancer = self._group("Balancer", "The load balancer: HTTPS from anywhere")
        for port in (443, 80):  # 80 only to redirect to 443
            self.balancer.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(port))
            self.balancer.add_ingress_rule(ec2.Peer.any_ipv6(), ec2.Port.tcp(port))
        skip(self.balancer, "CKV_AWS_260", "Port 80 only redirects to 443.")
        self.redis = self._group("Redis", "ElastiCache Redis: from PriceHub tasks only")
        self.database = self._group("Database", "RDS PostgreSQL: from PriceHub tasks only")

    def app_group(self, name: str) -> ec2.SecurityGroup:
        """Return a new security group of PriceHub's tasks: out to HTTPS (the venues, AWS's
        APIs), Redis and PostgreSQL only; in from nothing until a rule says."""
        group = self._group(name, f"PriceHub {name.lower()} tasks")
        group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "Venues and AWS APIs")
        group.connections.allow_to(self.redis, ec2.Port.tcp(REDIS_PORT), "Redis")
        group.connections.allow_to(self.database, ec2.Port.tcp(POSTGRES_PORT), "PostgreSQL")
        return group

    def _group(self, name: str, description: str) -> ec2.SecurityGroup:
        return ec2.SecurityGroup(
            self, name, vpc=self.vpc, description=description, allow_all_outbound=False
        )

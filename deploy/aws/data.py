"""What PriceHub keeps: its DynamoDB tables, ElastiCache Redis, RDS PostgreSQL, and the
secrets of all three."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from config import Config
from network import POSTGRES_PORT, REDIS_PORT, Network

DATABASE_NAME = "pricehub"
DATABASE_USER = "pricehub"


class Data(Construct):
    """The tables, Redis and PostgreSQL, each in the private subnets, encrypted, kept."""

    def __init__(self, scope: Construct, name: str, *, config: Config, network: Network) -> None:
        super().__init__(scope, name)
        self.key = kms.Key(self, "Key", enable_key_rotation=True, description="PriceHub's data")
        self.secret_key = self._secret("SecretKey", "Django's SECRET_KEY", length=64)
        self.redis_password = self._secret("RedisAuth", "ElastiCache Redis AUTH token", length=64)
        self.tables = [
            self._table(name) for name in (config.table_name, f"{config.table_name}-candles")
        ]
        self.redis = self._redis(config, network)
        self.database = self._database(config, network)

    def _secret(self, name: str, description: str, *, length: int) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            name,
            description=description,
            encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=length, exclude_punctuation=True
            ),
        )
        return secret

    def _table(self, name: str) -> dynamodb.Table:
        # Points, and ended candles: `asset` (S) and `timestamp` (N, epoch ms), as
        # aggregation/history/client.py makes them on DynamoDB Local.
        return dynamodb.Table(
            self,
            name,
            table_name=name,
            partition_key=dynamodb.Attribute(name="asset", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="timestamp", type=dynamodb.AttributeType.NUMBER),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _redis(self, config: Config, network: Network) -> elasticache.CfnReplicationGroup:
        subnets = elasticache.CfnSubnetGroup(
            self,
            "RedisSubnets",
            description="PriceHub's Redis, in the private subnets",
            subnet_ids=network.vpc.select_subnets(
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
            ).subnet_ids,
        )
        # Cluster mode disabled: PriceHub's Lua scripts touch several keys at once, and Celery's
        # broker and the stream's channel expect one keyspace, which a sharded cluster splits.
        # One primary and a replica in the other zone, promoted automatically.
        return elasticache.CfnReplicationGroup(
            self,
            "Redis",
            replication_group_description="PriceHub: latest prices, schedule, Celery broker",
            engine="redis",
            engine_version="7.1",
            cache_node_type=config.redis_node_type,
            num_cache_clusters=2,
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            transit_encryption_enabled=True,
            at_rest_encryption_enabled=True,
            kms_key_id=self.key.key_id,
            auth_token=self.redis_password.secret_value.unsafe_unwrap(),
            port=REDIS_PORT,
            cache_subnet_group_name=subnets.ref,
            security_group_ids=[network.redis.security_group_id],
            snapshot_retention_limit=7,
            auto_minor_version_upgrade=True,
        )

    def _database(self, config: Config, network: Network) -> rds.DatabaseInstance:
        database = rds.DatabaseInstance(
            self,
            "Database",
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_9),
            instance_type=ec2.InstanceType(config.database_instance_type),
            vpc=network.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[network.database],
            port=POSTGRES_PORT,
            database_name=DATABASE_NAME,
            credentials=rds.Credentials.from_generated_secret(
                DATABASE_USER, encryption_key=self.key
            ),
            storage_encrypted=True,
            storage_encryption_key=self.key,
            multi_az=True,
            allocated_storage=20,
            max_allocated_storage=100,
            backup_retention=Duration.days(7),
            deletion_protection=True,
            removal_policy=RemovalPolicy.SNAPSHOT,
            publicly_accessible=False,
            iam_authentication=True,
            auto_minor_version_upgrade=True,
            cloudwatch_logs_exports=["postgresql", "upgrade"],
            monitoring_interval=Duration.seconds(60),
            enable_performance_insights=True,
            performance_insight_encryption_key=self.key,
            copy_tags_to_snapshot=True,
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
        )
        return database

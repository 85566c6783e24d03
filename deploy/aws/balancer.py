"""The load balancer: HTTPS on 443 with the ACM certificate, 80 redirected to it, its access
logs in a bucket of their own."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from checks import skip
from config import Config
from network import Network

# The whole balancer's idle timeout (ALB has no other): a stream is quiet between prices, yet
# PriceHub never leaves it silent for 30 s (STREAM_HEARTBEAT_SECONDS), well within this.
IDLE_TIMEOUT = Duration.seconds(300)


class Balancer(Construct):
    def __init__(self, scope: Construct, name: str, *, config: Config, network: Network) -> None:
        super().__init__(scope, name)
        logs = s3.Bucket(
            self,
            "AccessLogs",
            # Load balancers write their access logs with S3's own keys only, never KMS.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(90),
                    noncurrent_version_expiration=Duration.days(7),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        skip(logs, "CKV_AWS_18", "The access-log bucket itself: logging it would log the logs.")
        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=network.vpc,
            internet_facing=True,
            security_group=network.balancer,
            idle_timeout=IDLE_TIMEOUT,
            drop_invalid_header_fields=True,
            deletion_protection=True,
        )
        self.alb.log_access_logs(logs, prefix="alb")
        self.alb.add_redirect(source_port=80, target_port=443, open=False)
        self.https = self.alb.add_listener(
            "Https",
            port=443,
            certificates=[elbv2.ListenerCertificate.from_arn(config.certificate_arn)],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            open=False,
        )

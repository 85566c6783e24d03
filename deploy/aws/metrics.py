"""How PriceHub's metrics reach CloudWatch, and the alarms on them.

Beside the API's server in each web task, the AWS Distro for OpenTelemetry collector scrapes
PriceHub's own /metrics (Prometheus's format) once a minute and writes the few series below to
CloudWatch Logs in the embedded metric format, which CloudWatch turns into metrics of the
namespace PriceHub: the age of the prices served (a histogram, by tier), each venue circuit's
state, and the messages waiting in each Celery queue (read from Redis at the scrape). The
collector takes histograms, which the CloudWatch agent drops.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from checks import log_group
from config import Config
from tasks import tmp_mount

NAMESPACE = "PriceHub"
COLLECTOR_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3"
# Each series published, with the label that becomes its one dimension.
SERIES = {
    "pricehub_price_age_seconds": "tier",
    "pricehub_venue_circuit_state": "state",
    "pricehub_celery_queue_messages": "queue",
}
REFRESH_QUEUES = ("hot", "medium", "celery")


class Metrics(Construct):
    def __init__(self, scope: Construct, name: str, *, config: Config) -> None:
        super().__init__(scope, name)
        self.config = config
        self.group = log_group(self, "Emf", days=config.log_retention_days)
        # The collector's own log, apart from the figures it writes.
        self.own_logs = log_group(self, "Collector", days=config.log_retention_days)

    def collector(self, definition: ecs.FargateTaskDefinition, port: int) -> None:
        """Add the collector that scrapes http://127.0.0.1:port/metrics in definition's task."""
        self.group.grant_write(definition.task_role)
        definition.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:DescribeLogStreams"], resources=[self.group.log_group_arn]
            )
        )
        collector = definition.add_container(
            "metrics",
            image=ecs.ContainerImage.from_registry(COLLECTOR_IMAGE),
            environment={
                "AOT_CONFIG_CONTENT": self._collector_config(port),
                "AWS_REGION": Stack.of(self).region,
            },
            logging=ecs.LogDrivers.aws_logs(stream_prefix="collector", log_group=self.own_logs),
            readonly_root_filesystem=True,
            essential=False,  # without it the API serves on; only the figures stop
        )
        collector.add_mount_points(tmp_mount())

    def _collector_config(self, port: int) -> str:
        declarations = [
            {"dimensions": [[label]], "metric_name_selectors": [f"^{name}$"]}
            for name, label in SERIES.items()
        ]
        scrape = {
            "job_name": "pricehub",
            "scrape_interval": "60s",
            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
        }
        exporter = {
            "namespace": NAMESPACE,
            "log_group_name": self.group.log_group_name,
            "log_stream_name": "metrics",
            "dimension_rollup_option": "NoDimensionRollup",
            "metric_declarations": declarations,
        }
        # YAML, the collector's configuration format, reads JSON.
        return json.dumps(
            {
                "receivers": {"prometheus": {"config": {"scrape_configs": [scrape]}}},
                "exporters": {"awsemf": exporter},
                "service": {
                    "pipelines": {"metrics": {"receivers": ["prometheus"], "exporters": ["awsemf"]}}
                },
            }
        )

    def queue_depth(self) -> cloudwatch.IMetric:
        """Return the longest refresh queue, in messages, over a minute."""
        queues = {
            f"q{index}": self._series("pricehub_celery_queue_messages", "queue", queue, "Maximum")
            for index, queue in enumerate(REFRESH_QUEUES)
        }
        return cloudwatch.MathExpression(
            expression=f"MAX([{', '.join(queues)}])",
            using_metrics=queues,
            period=Duration.minutes(1),
            label="Longest refresh queue",
        )

    def alarms(self, *, alb: elbv2.ApplicationLoadBalancer, key: kms.IKey) -> sns.Topic:
        """Add the alarms, each telling the topic returned: 5xx at the balancer, prices served
        too old in any tier, a venue's circuit open for five minutes."""
        topic = sns.Topic(self, "Alarms", master_key=key)
        key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        errors = cloudwatch.MathExpression(
            expression="FILL(elb, 0) + FILL(targets, 0)",
            using_metrics={
                "elb": alb.metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT),
                "targets": alb.metrics.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT),
            },
            period=Duration.minutes(1),
            label="5xx answers",
        )
        self._alarm("Http5xx", topic, errors, threshold=10, periods=5, what="5xx answers a minute")
        ages = {
            "hot": self.config.hot_age_alarm_seconds,
            "medium": self.config.medium_age_alarm_seconds,
            "cold": self.config.cold_age_alarm_seconds,
        }
        for tier, seconds in ages.items():
            age = self._series("pricehub_price_age_seconds", "tier", tier, "Average")
            self._alarm(
                f"PriceAge{tier.title()}",
                topic,
                age,
                threshold=seconds,
                periods=5,
                what=f"mean age of the {tier} prices served, seconds",
            )
        circuits = self._series("pricehub_venue_circuit_state", "state", "open", "Maximum")
        self._alarm(
            "CircuitOpen", topic, circuits, threshold=1, periods=5, what="a venue's circuit open"
        )
        return topic

    def _series(self, name: str, label: str, value: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=name,
            dimensions_map={label: value},
            statistic=statistic,
            period=Duration.minutes(1),
        )

    def _alarm(
        self,
        name: str,
        topic: sns.Topic,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        periods: int,
        what: str,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # No figure (no request, no read) is no trouble.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"PriceHub: {what} at or above {threshold:g} for {periods} minutes.",
        )
        alarm.add_alarm_action(actions.SnsAction(topic))
        alarm.add_ok_action(actions.SnsAction(topic))

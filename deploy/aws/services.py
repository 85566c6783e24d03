"""PriceHub's processes as ECS Fargate services: the web (front and API), the stream, the
workers, the history worker and the one beat; and the migrations as a one-off task."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from balancer import Balancer
from config import Config
from data import Data
from metrics import Metrics
from network import Network
from tasks import FRONT_PORT, STREAM_PORT, WEB_PORT, Tasks, checked_by_the_balancer, probe

# The processes of docker-compose.yml, each in a service of its own.
API = (
    "granian pricehub.wsgi:application --interface wsgi --host 127.0.0.1 "
    f"--port {WEB_PORT} --workers 2 --blocking-threads 8 --respawn-failed-workers"
)
STREAM = (
    "granian pricehub.asgi:application --interface asginl --host 127.0.0.1 "
    f"--port {STREAM_PORT} --workers 2 --backlog 2048 --backpressure 5000 --respawn-failed-workers"
    " --workers-kill-timeout 3"
)
CELERY = "celery -A pricehub"
WORKER = (
    f"{CELERY} worker -Q beat,hot,medium,celery --pool threads --concurrency 16 --loglevel WARNING"
)
# However many run, one drain records at a time (a Redis lock): one is enough.
HISTORY = f"{CELERY} worker -Q history --pool solo -n history@%h --loglevel WARNING"
BEAT = f"{CELERY} beat --schedule /tmp/celerybeat-schedule --loglevel WARNING"
MIGRATE = "python manage.py migrate --no-input"


class Services(Construct):
    def __init__(
        self,
        scope: Construct,
        name: str,
        *,
        config: Config,
        network: Network,
        data: Data,
        balancer: Balancer,
    ) -> None:
        super().__init__(scope, name)
        self.network = network
        self.cluster = ecs.Cluster(
            self, "Cluster", vpc=network.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
        )
        self.tasks = Tasks(self, "Tasks", config=config, data=data)
        self.metrics = Metrics(self, "Metrics", config=config)
        self.web = self._web(config)
        self.stream = self._stream(config)
        self.worker = self._service(
            "Worker", WORKER, cpu=1024, memory=2048, count=config.worker_tasks
        )
        self.history = self._service("History", HISTORY, cpu=512, memory=1024, count=1)
        # Exactly one beat: a deployment stops the old one before it starts the new (at most
        # 100 % and at least 0 % of one task), so two never tick at once.
        self.beat = self._service(
            "Beat", BEAT, cpu=256, memory=512, count=1, max_percent=100, min_percent=0
        )
        # Run by the deploy pipeline at each release (docs/deployment.md), never by a service.
        self.migrate = self.tasks.definition("Migrate", cpu=512, memory=1024)
        self.tasks.pricehub(self.migrate, "migrate", MIGRATE.split())
        self.migrate_group = network.app_group("Migrate")
        self._attach(balancer)
        self._scale(config)

    def _web(self, config: Config) -> ecs.FargateService:
        definition = self.tasks.definition("Web", cpu=1024, memory=2048)
        api = self.tasks.pricehub(
            definition,
            "api",
            checked_by_the_balancer(API, first="mkdir -p /tmp/metrics && "),
            health_check=probe(WEB_PORT),
            # The load balancer, then the front, append to X-Forwarded-For.
            NUM_PROXIES="2",
            # The API's processes add up their metrics here, for the scrape of /metrics.
            PROMETHEUS_MULTIPROC_DIR="/tmp/metrics",  # noqa: S108 (the task's own volume)  # nosec B108
        )
        # The balancer sends /stream to the stream tasks: the web's front has none behind it.
        self.tasks.front(definition, api, web=f"127.0.0.1:{WEB_PORT}", stream="127.0.0.1:9")
        self.metrics.collector(definition, WEB_PORT)
        return self._run("Web", definition, config.web_tasks)

    def _stream(self, config: Config) -> ecs.FargateService:
        definition = self.tasks.definition("Stream", cpu=512, memory=1024)
        stream = self.tasks.pricehub(
            definition,
            "stream",
            checked_by_the_balancer(STREAM),
            health_check=probe(STREAM_PORT),
            # The load balancer, then the front, append to X-Forwarded-For.
            NUM_PROXIES="2",
        )
        # Its own front, for the limits on streams a client and in all; the balancer sends
        # it /stream and its health checks alone, which the stream server answers.
        server = f"127.0.0.1:{STREAM_PORT}"
        self.tasks.front(definition, stream, web=server, stream=server)
        return self._run("Stream", definition, config.stream_tasks)

    def _service(
        self, name: str, command: str, *, cpu: int, memory: int, count: int, **deployment: int
    ) -> ecs.FargateService:
        definition = self.tasks.definition(name, cpu=cpu, memory=memory)
        self.tasks.pricehub(definition, name.lower(), command.split())
        return self._run(name, definition, count, **deployment)

    def _run(
        self,
        name: str,
        definition: ecs.FargateTaskDefinition,
        count: int,
        *,
        max_percent: int = 200,
        min_percent: int = 100,
    ) -> ecs.FargateService:
        return ecs.FargateService(
            self,
            name,
            cluster=self.cluster,
            task_definition=definition,
            desired_count=count,
            max_healthy_percent=max_percent,
            min_healthy_percent=min_percent,
            security_groups=[self.network.app_group(name)],
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            enable_execute_command=False,
            platform_version=ecs.FargatePlatformVersion.LATEST,
        )

    def _attach(self, balancer: Balancer) -> None:
        # Each task through its front; /healthz through the front and Django: both up. Its
        # Host, the task's address, is among ALLOWED_HOSTS (tasks.checked_by_the_balancer).
        self.web_targets = balancer.https.add_targets(
            "Web",
            port=FRONT_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[
                self.web.load_balancer_target(container_name="front", container_port=FRONT_PORT)
            ],
            health_check=elbv2.HealthCheck(path="/healthz", healthy_http_codes="200"),
            deregistration_delay=Duration.seconds(30),
        )
        balancer.https.add_targets(
            "Stream",
            priority=10,
            conditions=[elbv2.ListenerCondition.path_patterns(["/stream"])],
            port=FRONT_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[
                self.stream.load_balancer_target(container_name="front", container_port=FRONT_PORT)
            ],
            health_check=elbv2.HealthCheck(path="/healthz", healthy_http_codes="200"),
            # A stream ends when its task goes; its client reconnects (Last-Event-ID).
            deregistration_delay=Duration.seconds(30),
        )

    def _scale(self, config: Config) -> None:
        web = self.web.auto_scale_task_count(
            min_capacity=config.web_tasks, max_capacity=config.web_max_tasks
        )
        web.scale_on_cpu_utilization("Cpu", target_utilization_percent=60)
        web.scale_on_request_count(
            "Requests", requests_per_target=3000, target_group=self.web_targets
        )
        stream = self.stream.auto_scale_task_count(
            min_capacity=config.stream_tasks, max_capacity=config.stream_max_tasks
        )
        stream.scale_on_cpu_utilization("Cpu", target_utilization_percent=60)
        workers = self.worker.auto_scale_task_count(
            min_capacity=config.worker_tasks, max_capacity=config.worker_max_tasks
        )
        # The longest of the refresh queues, which PriceHub's /metrics shows and the collector
        # beside the API publishes (metrics.py): a backlog means too few workers.
        workers.scale_on_metric(
            "QueueDepth",
            metric=self.metrics.queue_depth(),
            scaling_steps=[
                appscaling.ScalingInterval(upper=10, change=-1),
                appscaling.ScalingInterval(lower=100, change=+1),
                appscaling.ScalingInterval(lower=1000, change=+3),
            ],
            cooldown=Duration.minutes(2),
            evaluation_periods=2,
        )

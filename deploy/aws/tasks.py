"""PriceHub's containers on Fargate: one task definition per process, all from one image, with
the settings and secrets every process reads."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from constructs import Construct

from checks import log_group
from config import Config
from data import DATABASE_NAME, DATABASE_USER, Data
from deploy.services import front_config
from network import POSTGRES_PORT, REDIS_PORT, VPC_CIDR

NGINX_IMAGE = "public.ecr.aws/docker/library/nginx:1.28.0-alpine"
WEB_PORT, FRONT_PORT, STREAM_PORT = 8079, 8080, 8090
FRONT_DIR = "/tmp/front"  # noqa: S108 (a volume of the task's own)  # nosec B108
# The front of the web and of the stream tasks, make run's: its access log goes to the task's
# log; the admin answers every address the balancer passes; the balancer, inside the VPC, is
# the proxy whose X-Forwarded-Proto and X-Forwarded-For (the client) the front believes. The
# stream limits are make run's, counted by each stream task's front (docs/deployment.md).
FRONT_LISTS = {"FRONT_ACCESS_LOG": "/dev/stdout", "FRONT_TRUSTED_PROXY": VPC_CIDR}
# The DynamoDB calls of aggregation/history/: reads, batch writes, the candles' rollup, the
# readiness probe. Never CreateTable or DeleteTable: the stack makes the tables.
TABLE_ACTIONS = [
    "dynamodb:DescribeTable",
    "dynamodb:Query",
    "dynamodb:BatchWriteItem",
    "dynamodb:UpdateItem",
]


# The task's own address (ECS's task metadata), which the load balancer's health checks send
# as their Host: the production settings serve only the hosts named.
OWN_ADDRESS = (
    'python -c "import json, os, urllib.request as u; '
    "print(json.load(u.urlopen(os.environ['ECS_CONTAINER_METADATA_URI_V4']))"
    "['Networks'][0]['IPv4Addresses'][0])\""
)


def checked_by_the_balancer(command: str, *, first: str = "") -> list[str]:
    """Return command run by a shell, after the shell line first, with the task's address
    among ALLOWED_HOSTS."""
    own = f'export ALLOWED_HOSTS="$ALLOWED_HOSTS,$({OWN_ADDRESS})"'
    return ["sh", "-c", f"{own} && {first}exec {command}"]


class Tasks(Construct):
    """Builds the task definitions; every container reads the same settings and secrets."""

    def __init__(self, scope: Construct, name: str, *, config: Config, data: Data) -> None:
        super().__init__(scope, name)
        self.config = config
        repository = ecr.Repository.from_repository_name(self, "Images", config.repository)
        self.image = ecs.ContainerImage.from_ecr_repository(repository, config.image_tag)
        redis = data.redis.attr_primary_end_point_address
        database = data.database.db_instance_endpoint_address
        self.environment = {
            "DJANGO_SETTINGS_MODULE": "pricehub.settings_production",
            # 127.0.0.1: the probes and the metrics' scrape inside the task.
            "ALLOWED_HOSTS": f"{config.domain_name},127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": f"https://{config.domain_name}",
            "REDIS_URL": f"rediss://{redis}:{REDIS_PORT}/0?ssl_cert_reqs=required",
            "DATABASE_URL": (
                f"postgres://{DATABASE_USER}@{database}:{POSTGRES_PORT}/{DATABASE_NAME}"
                "?sslmode=require"
            ),
            "AWS_REGION": Stack.of(self).region,
            "DYNAMODB_TABLE": config.table_name,
            "VENUES": config.venues,
        }
        self.secrets = {
            "SECRET_KEY": ecs.Secret.from_secrets_manager(data.secret_key),
            "REDIS_PASSWORD": ecs.Secret.from_secrets_manager(data.redis_password),
            "DATABASE_PASSWORD": ecs.Secret.from_secrets_manager(data.database.secret, "password"),
        }
        self.tables = data.tables
        self.key = data.key

    def definition(self, name: str, *, cpu: int, memory: int) -> ecs.FargateTaskDefinition:
        """Return an empty task definition whose role may use PriceHub's tables, nothing else."""
        role = iam.Role(
            self, f"{name}Role", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com")
        )
        for table in self.tables:
            table.grant(role, *TABLE_ACTIONS)
        self.key.grant(role, "kms:Decrypt", "kms:GenerateDataKey")  # the tables' key
        definition = ecs.FargateTaskDefinition(
            self, name, cpu=cpu, memory_limit_mib=memory, task_role=role
        )
        definition.add_volume(name="tmp")
        return definition

    def pricehub(
        self,
        definition: ecs.FargateTaskDefinition,
        name: str,
        command: list[str],
        health_check: ecs.HealthCheck | None = None,
        **environment: str,
    ) -> ecs.ContainerDefinition:
        """Add a container of PriceHub's image running command, with its logs and a /tmp."""
        container = definition.add_container(
            name,
            image=self.image,
            command=command,
            health_check=health_check,
            environment={**self.environment, **environment},
            secrets=self.secrets,
            logging=self._logs(name),
            readonly_root_filesystem=True,
            stop_timeout=Duration.seconds(30),
        )
        container.add_mount_points(tmp_mount())
        return container

    def front(
        self,
        definition: ecs.FargateTaskDefinition,
        server: ecs.ContainerDefinition,
        *,
        web: str,
        stream: str,
    ) -> None:
        """Add the front (nginx) on FRONT_PORT before server, which it waits for: the API's
        paths to the address web, /stream to the address stream."""
        config = front_config(str(FRONT_PORT), web, stream, FRONT_DIR, FRONT_LISTS)
        script = (
            f'mkdir -p {FRONT_DIR} && printf "%s" "$FRONT_CONFIG" > {FRONT_DIR}/nginx.conf'
            f" && exec nginx -e stderr -c {FRONT_DIR}/nginx.conf -g 'daemon off;'"
        )
        front = definition.add_container(
            "front",
            image=ecs.ContainerImage.from_registry(NGINX_IMAGE),
            entry_point=["sh", "-c"],
            command=[script],
            environment={"FRONT_CONFIG": config},
            logging=self._logs(f"{definition.node.id}Front"),
            readonly_root_filesystem=True,
            port_mappings=[ecs.PortMapping(container_port=FRONT_PORT)],
        )
        front.add_mount_points(tmp_mount())
        front.add_container_dependencies(
            ecs.ContainerDependency(
                container=server, condition=ecs.ContainerDependencyCondition.HEALTHY
            )
        )

    def _logs(self, name: str) -> ecs.LogDriver:
        group = log_group(self, f"{name}Logs", days=self.config.log_retention_days)
        return ecs.LogDrivers.aws_logs(stream_prefix=name, log_group=group)


def probe(port: int) -> ecs.HealthCheck:
    """Return a container health check: GET /healthz on port answers 200."""
    code = f"import urllib.request as u; u.urlopen('http://127.0.0.1:{port}/healthz', timeout=2)"
    return ecs.HealthCheck(
        command=["CMD", "python", "-c", code],
        interval=Duration.seconds(10),
        timeout=Duration.seconds(5),
        retries=3,
        start_period=Duration.seconds(30),
    )


def tmp_mount() -> ecs.MountPoint:
    """Return the mount of the task's volume at /tmp: a root file system is read-only."""
    tmp = "/tmp"  # noqa: S108 (the task's own volume)  # nosec B108
    return ecs.MountPoint(container_path=tmp, source_volume="tmp", read_only=False)

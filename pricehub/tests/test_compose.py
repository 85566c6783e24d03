"""The image and docker-compose.yml, read as files (no Docker engine runs the tests): the image
built in two stages and run as a user of its own, the stack pinned, healthy before it is
depended on, safe to expose and in step with `make run`, its Prometheus and Grafana files in
step with the metrics PriceHub exports. The checks that can run without Docker run for real:
Redis's configuration, DynamoDB Local's and the servers' healthchecks, a worker's ping."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import dockerfile
import psutil
import pytest
import redis
import yaml
from django.conf import settings
from docker.utils.build import exclude_paths
from prometheus_client import REGISTRY

from aggregation.history.backlog import Backlog
from aggregation.tests import stack
from deploy.run import VENUES
from deploy.services import FRONT_LIMITS, front_command
from exchanges.circuits import CircuitStates
from pricehub.tests.test_settings_documented import variables_documented

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


APP = ("web", "stream", "worker", "history", "beat")
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "pricehub.json"


def prometheus() -> dict:
    (config,) = [
        volume.split(":")[0]
        for volume in SERVICES["prometheus"]["volumes"]
        if volume.split(":")[1] == "/etc/prometheus/prometheus.yml"
    ]
    return yaml.safe_load((ROOT / config).read_text())


def grafana_volumes() -> list[str]:
    return [volume for volume in SERVICES["grafana"]["volumes"] if volume.startswith("./")]


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_it_defines_every_process_of_make_run_postgres_and_the_monitoring():
    assert set(SERVICES) == {
        "redis", "postgres", "dynamodb-local", *VENUES, "migrate", "web", "stream", "front",
        "worker", "history", "beat", "prometheus", "grafana",
    }  # fmt: skip


def test_only_the_front_and_grafana_publish_ports_and_only_on_loopback():
    published = {name: service["ports"] for name, service in SERVICES.items() if "ports" in service}
    assert published == {
        "front": ["${FRONT_BIND:-127.0.0.1}:8080:8080"],
        "grafana": ["127.0.0.1:3000:3000"],
    }
    assert not any("expose" in service for service in SERVICES.values())
    assert not any("network_mode" in service for service in SERVICES.values())


def port_of(service: str) -> str:
    command = SERVICES[service]["command"]
    command = command[-1].split() if command[0] == "sh" else command
    return command[command.index("--port") + 1]


def test_the_front_fills_in_every_name_of_make_runs_template_with_web_and_the_stream():
    front = SERVICES["front"]
    template = (ROOT / "deploy" / "nginx.conf.template").read_text()
    names = set(re.findall(r"\$\{(FRONT_\w+)\}", template))
    # The entries of the lists the command makes with sed from the two lists given.
    lists = {"FRONT_ADMIN_ALLOW", "FRONT_TRUSTED_PROXY"}
    made = {"FRONT_ADMIN_NETS", "FRONT_PROXY_NETS", "FRONT_REAL_IP_FROM"}
    assert set(front["environment"]) == names - made | lists
    assert all(f"$${name}" in front["command"][-1] for name in names)  # envsubst's list
    assert front["environment"]["FRONT_WEB"] == f"web:{port_of('web')}"
    assert front["environment"]["FRONT_STREAM"] == f"stream:{port_of('stream')}"
    assert front["ports"] == [
        f"${{FRONT_BIND:-127.0.0.1}}:8080:{front['environment']['FRONT_LISTEN']}"
    ]
    (mount,) = front["volumes"]
    source, target, _mode = mount.split(":")
    assert (ROOT / source) == ROOT / "deploy" / "nginx.conf.template"
    assert f"< {target} >" in front["command"][-1]
    for name, default in FRONT_LIMITS.items():  # GET /stream's limits, make run's by default
        assert front["environment"][f"FRONT_{name}"] == f"${{FRONT_{name}:-{default}}}"
    # It appends each client's address to X-Forwarded-For, the one the throttle keys on.
    for name in APP:
        assert SERVICES[name]["environment"]["NUM_PROXIES"] == "1"


def test_workers_scale_and_each_serves_the_metrics_prometheus_scrapes():
    jobs = {job["job_name"]: job for job in prometheus()["scrape_configs"]}
    for name in ("worker", "history"):
        worker = SERVICES[name]
        assert not {"container_name", "ports", "hostname"} & set(worker)  # --scale worker=N
        port = int(worker["environment"]["WORKER_METRICS_PORT"])
        assert jobs[name]["dns_sd_configs"] == [{"names": [name], "type": "A", "port": port}]
    assert jobs["web"]["static_configs"] == [{"targets": ["web:8080"]}]  # /metrics by default
    assert "web" in SERVICES["web"]["environment"]["ALLOWED_HOSTS"].split(",")
    for name in APP:  # each container's processes add up in a folder of its own
        assert SERVICES[name]["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/metrics"
        assert SERVICES[name]["tmpfs"] == ["/metrics"]


def queues(service: str) -> set[str]:
    command = SERVICES[service]["command"]
    return set(command[command.index("-Q") + 1].split(","))


def test_every_celery_queue_has_a_worker_and_history_has_one_of_its_own():
    assert queues("worker") | queues("history") == {
        queue.name for queue in settings.CELERY_TASK_QUEUES
    }
    assert queues("history") == {"history"}


def test_grafana_needs_a_password_from_the_env_file_and_lets_no_one_else_in():
    env = SERVICES["grafana"]["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert "GRAFANA_ADMIN_PASSWORD=" in (ROOT / "docs" / "compose.md").read_text()


def test_grafana_is_provisioned_with_prometheus_and_the_pricehub_dashboard():
    mounts = {}  # target -> source
    for volume in grafana_volumes():
        source, target, _mode = volume.split(":")
        mounts[target] = source
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    (source,) = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((provisioning / "dashboards/pricehub.yml").read_text())[
        "providers"
    ]
    folder = provider["options"]["path"]
    assert ROOT / mounts[folder] == DASHBOARD.parent
    assert SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == (
        f"{folder}/{DASHBOARD.name}"
    )
    panels = dashboard()["panels"]
    assert {panel["datasource"]["uid"] for panel in panels} == {source["uid"]}
    assert {panel["title"] for panel in panels} >= {
        "Requests per second", "Latency", "Cache hit rate", "Price age by tier (p95)",
        "Venue errors per second", "Venue circuits", "History backlog",
    }  # fmt: skip
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))


def test_every_metric_the_dashboard_queries_is_one_pricehub_exports():
    exported = {metric.name for metric in REGISTRY.collect()}
    exported |= {CircuitStates.NAME, *Backlog.NAMES}
    queried = {
        re.sub(r"_(total|bucket|count|sum)$", "", name)
        for panel in dashboard()["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b(?:pricehub|django)_\w+", target["expr"])
    }
    assert len(queried) >= 7
    assert queried <= exported, queried - exported


def test_redis_needs_a_password_that_every_client_gives():
    assert SERVICES["redis"]["environment"]["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD:?")
    for name in APP:
        url = SERVICES[name]["environment"]["REDIS_URL"]
        assert url.startswith("redis://:${REDIS_PASSWORD:?"), name


def test_the_app_runs_the_production_settings_with_secrets_from_the_env_file():
    for name in APP:
        service = SERVICES[name]
        env = service["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "pricehub.settings_production", name
        assert service["env_file"] == [".env"], name
        assert "SECRET_KEY" not in env, name
        assert env["DATABASE_URL"].startswith("postgres://"), name
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_the_simulators_fault_endpoint_is_off():
    assert all(SERVICES[venue]["environment"]["SIM_FAULTS"] == "false" for venue in VENUES)


def test_the_image_installs_what_pricehub_runs_on_and_no_test_tools():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "RUN pip install --no-cache-dir -r requirements.txt" in dockerfile
    pinned = {
        line.split("==")[0].lower()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line
    }
    assert {"django", "celery", "granian", "boto3"} <= pinned
    assert not {"pytest", "playwright", "ruff", "schemathesis", "hypothesis"} & pinned


def test_the_image_defaults_to_the_production_settings():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "ENV DJANGO_SETTINGS_MODULE=pricehub.settings_production" in dockerfile


def test_it_runs_dynamodb_local_with_a_shared_db_on_disk():
    command = SERVICES["dynamodb-local"]["command"]
    assert SERVICES["dynamodb-local"]["image"].startswith("amazon/dynamodb-local:")
    assert "-sharedDb" in command
    assert "-dbPath" in command


def test_it_points_the_seeded_venue_rows_at_the_venue_containers():
    env = SERVICES["web"]["environment"]
    assert [env[f"{venue.upper()}_URL"] for venue in VENUES] == [
        f"http://{venue}:{port}" for venue, port in VENUES.items()
    ]


def test_only_the_venue_containers_may_be_on_the_network_s_private_addresses():
    for name in APP:
        env = SERVICES[name]["environment"]
        assert "VENUE_PRIVATE_ADDRESSES" not in env, name
        assert env["VENUE_PRIVATE_HOSTS"].split(",") == list(VENUES), name


def test_its_dockerfile_exists():
    assert (ROOT / SERVICES["web"]["build"]["dockerfile"]).is_file()


# The image: deploy/Dockerfile and what .dockerignore lets into its build.

KEPT_OUT = (
    ".env", ".env.production", "deploy/aws/.env", ".git/HEAD", ".venv/bin/python",
    ".cache/dynamodb/DynamoDBLocal.jar", "data/dynamodb/shared-local-instance.db",
    "db.sqlite3", "exchanges/old.sqlite3", "bench/results/load.md", "results/browser/page.png",
    "deploy/aws/cdk.out/manifest.json", "node_modules/x/index.js",
    "deploy/aws/node_modules/x/index.js", "__pycache__/conftest.cpython-311.pyc",
    "aggregation/__pycache__/models.cpython-311.pyc", "staticfiles/admin/css/base.css",
    "aggregation/tests/test_api.py",
)  # fmt: skip
KEPT_IN = (
    "manage.py", "requirements.txt", "pricehub/settings.py", "exchanges/migrations/0001_initial.py",
    "aggregation/static/aggregation/dashboard.js", "aggregation/templates/aggregation/index.html",
    "mock_exchange_app/assets.csv", "deploy/Dockerfile",
)  # fmt: skip


def stages() -> list[list[dockerfile.Command]]:
    """Return the Dockerfile's instructions, stage by stage."""
    found: list[list[dockerfile.Command]] = []
    for command in dockerfile.parse_file(str(DOCKERFILE)):
        if command.cmd.upper() == "FROM":
            found.append([])
        found[-1].append(command)
    return found


def instructions(stage: list[dockerfile.Command], name: str) -> list[dockerfile.Command]:
    return [command for command in stage if command.cmd.upper() == name]


def test_the_build_context_leaves_out_secrets_history_local_state_and_results(tmp_path):
    for path in KEPT_OUT + KEPT_IN:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    # As Docker's clients read the file: stripped, without blanks and comments.
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    sent = exclude_paths(str(tmp_path), patterns, dockerfile="deploy/Dockerfile")
    assert sorted(set(KEPT_OUT) & sent) == []
    assert sorted(set(KEPT_IN) - sent) == []


def test_the_image_is_built_in_one_stage_and_run_from_another_of_the_tests_python():
    images = [stage[0].value[0] for stage in stages()]
    assert len(images) >= 2
    # An exact Python, the minor version the tests run on.
    python = re.escape(f"{sys.version_info.major}.{sys.version_info.minor}")
    assert all(re.fullmatch(rf"python:{python}\.\d+-slim-bookworm", image) for image in images)


def test_the_build_stage_installs_and_collects_and_the_runtime_copies_only_what_runs():
    build, runtime = stages()[0], stages()[-1]
    runs = [command.value[0] for command in instructions(build, "RUN")]
    assert "pip install --no-cache-dir -r requirements.txt" in runs
    assert any("collectstatic" in run for run in runs)
    copies = instructions(runtime, "COPY")
    assert {command.flags for command in copies} == {(f"--from={build[0].value[-1]}",)}
    linted = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    packages = set(linted["root_packages"]) - {"bench", "deploy"}  # make run's and make bench's
    copied = {Path(command.value[0]).name for command in copies}
    assert copied == packages | {"venv", "manage.py", "staticfiles"}


def test_the_image_runs_as_a_fixed_user_that_is_not_root():
    (user, *_) = instructions(stages()[-1], "USER")[-1].value
    uid = user.split(":")[0]
    assert uid.isdigit(), user  # a name could mean another uid on another base
    assert int(uid) >= 1000, user
    # And no container of the image becomes root again.
    assert not [
        name for name, service in SERVICES.items() if "build" in service and "user" in service
    ]


def test_the_image_sets_no_secret():
    names = []
    for command in dockerfile.parse_file(str(DOCKERFILE)):
        if command.cmd.upper() == "ENV":
            names += command.value[0::2]
        if command.cmd.upper() == "ARG":
            names += [value.split("=")[0] for value in command.value]
    assert "DJANGO_SETTINGS_MODULE" in names
    assert [name for name in names if re.search("SECRET|PASSWORD|TOKEN|KEY|AUTH", name)] == []


# The stack: pinned, restarted, healthy before it is depended on, started in order.

BACKENDS = {"redis", "postgres", "dynamodb-local"}
CHECKED = BACKENDS | {"web", "stream", "front", "worker", "history"}


def healthcheck(name: str) -> list[str]:
    return SERVICES[name]["healthcheck"]["test"]


def test_every_image_is_pinned_to_an_exact_version():
    for name, service in SERVICES.items():
        if "image" not in service:
            assert service["build"]["dockerfile"] == "deploy/Dockerfile", name
            continue
        image, tag = service["image"].split(":")
        # PostgreSQL's versions have two numbers (16.10), the others three.
        numbers = r"\d+\.\d+" if image == "postgres" else r"\d+\.\d+\.\d+"
        assert re.fullmatch(rf"v?{numbers}(-[a-z]+)?", tag), name


def test_every_long_running_service_restarts_unless_stopped_and_migrate_runs_once():
    restart = {name: service.get("restart") for name, service in SERVICES.items()}
    assert restart.pop("migrate") == "no"
    assert set(restart.values()) == {"unless-stopped"}


def test_each_service_waited_on_has_a_healthcheck_and_every_server_has_one():
    assert {name for name, service in SERVICES.items() if "healthcheck" in service} == CHECKED
    for name, service in SERVICES.items():
        depends = service.get("depends_on", [])  # a list: each only started
        conditions = depends if isinstance(depends, dict) else {}
        waited = [
            other for other in conditions if conditions[other] == {"condition": "service_healthy"}
        ]
        assert all("healthcheck" in SERVICES[other] for other in waited), name


def test_the_processes_start_once_the_backends_are_healthy_and_the_migrations_done():
    healthy = {name: {"condition": "service_healthy"} for name in BACKENDS}
    assert SERVICES["migrate"]["depends_on"] == healthy
    for name in APP:
        assert SERVICES[name]["depends_on"] == healthy | {
            "migrate": {"condition": "service_completed_successfully"}
        }, name
    assert SERVICES["front"]["depends_on"] == {
        "web": {"condition": "service_healthy"},
        "stream": {"condition": "service_healthy"},
    }


def test_migrate_migrates_and_no_process_does_at_its_start():
    assert SERVICES["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    assert all("migrate" not in " ".join(SERVICES[name]["command"]) for name in APP)


def test_the_backends_check_themselves_with_their_own_tools():
    assert healthcheck("redis") == ["CMD-SHELL", "redis-cli ping | grep -q PONG"]
    assert healthcheck("postgres")[:2] == ["CMD", "pg_isready"]
    assert "X-Amz-Target: DynamoDB_20120810.ListTables" in healthcheck("dynamodb-local")[1]


def test_the_servers_check_their_own_probes_and_the_front_its_way_to_them():
    fetch = ["CMD", "python", "-c", COMPOSE["x-fetch"]]
    assert healthcheck("web") == [*fetch, f"http://127.0.0.1:{port_of('web')}/readyz"]
    assert healthcheck("stream") == [*fetch, f"http://127.0.0.1:{port_of('stream')}/healthz"]
    listen = SERVICES["front"]["environment"]["FRONT_LISTEN"]
    assert healthcheck("front")[-1] == f"http://127.0.0.1:{listen}/healthz"


def test_each_worker_checks_that_it_answers_a_ping_through_the_broker():
    for name in ("worker", "history"):
        command = SERVICES[name]["command"]
        node = command[command.index("-n") + 1]
        assert node == f"{name}@%h"
        ping = "env -u PROMETHEUS_MULTIPROC_DIR celery -A pricehub inspect ping"
        ping += f" --destination {name}@$$HOSTNAME --timeout"
        assert healthcheck(name)[1].startswith(ping), name


def redis_script() -> tuple[str, str]:
    """Return the two halves of Redis's command: writing its configuration, and starting."""
    shell, option, script = SERVICES["redis"]["command"]
    assert [shell, option] == ["sh", "-c"]
    write, start = script.split(" && exec ")
    return write, start


def test_redis_appends_each_write_to_its_volume_and_its_password_is_on_no_command_line():
    write, start = redis_script()
    assert start == "redis-server /tmp/redis.conf"
    assert write.endswith('"$$REDISCLI_AUTH" > /tmp/redis.conf')  # $$: the shell's, at start
    commands = [SERVICES["redis"]["command"], healthcheck("redis")]
    parts = [part for command in commands for part in command]
    assert not [part for part in parts if "${" in part or "--requirepass" in part]
    assert "redis-data:/data" in SERVICES["redis"]["volumes"]
    assert "redis-data" in COMPOSE["volumes"]


FROM_ENV_FILE = re.compile(r"\$\{\w+:\?[^}]+\}")  # compose's "must be set", from .env


def test_the_compose_file_writes_no_secret_itself():
    for name, service in SERVICES.items():
        for variable, value in service.get("environment", {}).items():
            if variable.startswith("AWS_"):  # DynamoDB Local's, which takes any
                assert value == "local", (name, variable)
            elif re.search(r"SECRET|PASSWORD|TOKEN|_AUTH$", variable):
                assert FROM_ENV_FILE.fullmatch(value), (name, variable)
            elif "://" in value:
                assert not urlsplit(FROM_ENV_FILE.sub("", value)).password, (name, variable)
    assert SERVICES["web"]["environment"]["DYNAMODB_ENDPOINT_URL"] == "http://dynamodb-local:8000"


def test_every_variable_the_compose_file_reads_is_in_the_configuration_table():
    read = set(re.findall(r"\$\{(\w+)", (ROOT / "docker-compose.yml").read_text()))
    assert {"REDIS_PASSWORD", "FRONT_BIND"} <= read
    assert sorted(read - variables_documented()) == []


@pytest.mark.slow
def test_redis_started_as_compose_starts_it_asks_for_the_password_and_keeps_an_aof(tmp_path):
    write, start = redis_script()
    config, password = tmp_path / "redis.conf", "the-password-of-this-test"
    write = write.replace(start.split()[-1], str(config)).replace("$$", "$")
    env = dict(os.environ, REDISCLI_AUTH=password)
    subprocess.run(["sh", "-c", write], env=env, check=True)
    assert config.stat().st_mode & 0o077 == 0  # for its owner's eyes only

    def server(port: int) -> list[str]:
        return ["redis-server", str(config), "--port", str(port), "--dir", str(tmp_path)]

    with stack.serving(server) as served:
        port = served.port
        assert password not in " ".join(psutil.Process(served.process.pid).cmdline())
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port).ping()
        client = redis.Redis(host="127.0.0.1", port=port, password=password)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        check = healthcheck("redis")[1].replace("redis-cli", f"redis-cli -p {port}")
        subprocess.run(["sh", "-c", check], env=env, check=True)


def test_dynamodb_locals_check_passes_once_it_serves(dynamodb_endpoint):
    check = healthcheck("dynamodb-local")[1].replace("http://127.0.0.1:8000", dynamodb_endpoint)
    assert subprocess.run(["sh", "-c", check]).returncode == 0


def test_the_servers_check_passes_on_an_answer_and_fails_on_an_error_status(venues):
    fetch = [sys.executable, "-c", COMPOSE["x-fetch"]]
    assert subprocess.run([*fetch, f"{venues['binance']}/sim/limits"]).returncode == 0
    missing = subprocess.run([*fetch, f"{venues['binance']}/nothing"], capture_output=True)
    assert missing.returncode == 1


@pytest.mark.slow
def test_a_workers_check_passes_once_it_answers_and_leaves_no_metrics_file(
    stack_environment, tmp_path
):
    env = stack_environment(redis_db=14, table="prices-compose-ping", interval=60)
    command = [sys.executable, "-m", *SERVICES["worker"]["command"]]
    check = healthcheck("worker")[1].replace("$$", "$")
    check = check.replace("celery -A", f"{sys.executable} -m celery -A", 1)
    check = re.sub(r"--timeout \d+", "--timeout 3", check)  # soon again while it starts
    # A container's hostname, which is Celery's %h; its metrics folder.
    checking = env | {"HOSTNAME": socket.gethostname(), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    with stack.running([(command, env)]):
        deadline = time.monotonic() + 60
        while subprocess.run(["sh", "-c", check], env=checking, capture_output=True).returncode:
            assert time.monotonic() < deadline, "the worker never answered its check"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("admin_allow", "trusted_proxy"),
    [
        ("", ""),
        ("10.0.0.0/8,192.168.0.0/16", "172.16.0.5"),
        ("10.0.0.0/8", "172.16.0.5, 10.2.0.0/16"),
    ],
)
def test_the_fronts_lists_become_the_entries_make_run_writes(tmp_path, admin_allow, trusted_proxy):
    # The compose front's command, run here with sh, sed and envsubst, writing to tmp_path.
    front = SERVICES["front"]
    command = front["command"][-1].replace("$$", "$").split(" && exec nginx")[0]
    command = command.replace("/etc/pricehub/nginx.conf.template", "deploy/nginx.conf.template")
    command = command.replace("/etc/nginx/nginx.conf", str(tmp_path / "compose.conf"))
    env = {
        **{name: str(value) for name, value in front["environment"].items()},
        "FRONT_ADMIN_ALLOW": admin_allow,
        "FRONT_TRUSTED_PROXY": trusted_proxy,
        "PATH": os.environ["PATH"],
    }
    subprocess.run(["sh", "-c", command], env=env, cwd=ROOT, check=True)
    lists = {"FRONT_ADMIN_ALLOW": admin_allow, "FRONT_TRUSTED_PROXY": trusted_proxy}
    front_command("8080", "web:8080", "stream:8090", tmp_path, lists)
    entries = re.compile(r"geo [^{]*\{[^}]*\}|set_real_ip_from [^;]*;")
    written = (tmp_path / "compose.conf").read_text(), (tmp_path / "nginx.conf").read_text()
    compose, make_run = ([" ".join(found.split()) for found in entries.findall(t)] for t in written)
    assert compose == make_run
    assert len(compose) == 2 + len([net for net in trusted_proxy.split(",") if net])

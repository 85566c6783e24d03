"""docker-compose.yml cannot run here; these keep it loadable, safe to expose, in step with
`make run`, and its Prometheus and Grafana files in step with the metrics PriceHub exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from django.conf import settings
from django_prometheus.middleware import Metrics
from prometheus_client import REGISTRY

from aggregation.history.backlog import Backlog
from deploy.run import VENUES
from exchanges.circuits import CircuitStates

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


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
        "redis", "postgres", "dynamodb-local", *VENUES, "web", "stream", "front", "worker",
        "history", "beat", "prometheus", "grafana",
    }  # fmt: skip


def test_only_the_front_and_grafana_publish_ports_and_only_on_loopback():
    published = {name: service["ports"] for name, service in SERVICES.items() if "ports" in service}
    assert published == {"front": ["127.0.0.1:8080:8080"], "grafana": ["127.0.0.1:3000:3000"]}
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
    assert set(front["environment"]) == names
    assert all(f"$${name}" in front["command"][-1] for name in names)  # envsubst's list
    assert front["environment"]["FRONT_WEB"] == f"web:{port_of('web')}"
    assert front["environment"]["FRONT_STREAM"] == f"stream:{port_of('stream')}"
    assert front["ports"] == [f"127.0.0.1:8080:{front['environment']['FRONT_LISTEN']}"]
    (mount,) = front["volumes"]
    source, target, _mode = mount.split(":")
    assert (ROOT / source) == ROOT / "deploy" / "nginx.conf.template"
    assert f"< {target} >" in front["command"][-1]
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
    assert "GRAFANA_ADMIN_PASSWORD=" in (ROOT / "docs" / "operations.md").read_text()


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
    Metrics.get_instance()  # django-prometheus registers its metrics on first use
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
    assert SERVICES["redis"]["command"][-2:] == [
        "--requirepass",
        "${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}",
    ]
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
    assert SERVICES["dynamodb-local"]["image"] == "amazon/dynamodb-local"
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

"""docker-compose.yml cannot run here; these keep it loadable and in step with `make run`."""

from __future__ import annotations

from pathlib import Path

import yaml

from deploy.run import VENUES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


APP = ("web", "stream", "worker", "beat")


def test_it_defines_every_process_of_make_run_and_postgres():
    assert set(SERVICES) == {
        "redis", "postgres", "dynamodb-local", *VENUES, "web", "stream", "worker", "beat"
    }  # fmt: skip


def test_only_web_and_the_stream_server_publish_a_port_and_only_on_loopback():
    published = {name: service["ports"] for name, service in SERVICES.items() if "ports" in service}
    assert published == {"web": ["127.0.0.1:8080:8080"], "stream": ["127.0.0.1:8090:8090"]}


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


def test_its_dockerfile_exists():
    assert (ROOT / SERVICES["web"]["build"]["dockerfile"]).is_file()

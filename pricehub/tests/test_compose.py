"""docker-compose.yml cannot run here; these keep it loadable and in step with `make run`."""

from __future__ import annotations

from pathlib import Path

import yaml

from deploy.run import DYNAMODB_PORT, VENUES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def published_port(service: str) -> int:
    return int(SERVICES[service]["ports"][0].split(":")[0])


def test_it_defines_every_process_of_make_run():
    assert set(SERVICES) == {"redis", "dynamodb-local", *VENUES, "web", "worker", "beat"}


def test_it_publishes_the_ports_of_the_design():
    ports = {name: published_port(name) for name in ("web", "dynamodb-local", "redis", *VENUES)}
    assert ports == {"web": 8080, "dynamodb-local": DYNAMODB_PORT, "redis": 6379, **VENUES}


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

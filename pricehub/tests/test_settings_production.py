from __future__ import annotations

import os
import subprocess
import sys

import pytest

from deploy.run import VENUES
from deploy.services import ROOT
from pricehub.tests.test_compose import SERVICES

# Long and varied enough for Django's own SECRET_KEY check (security.W009).
PRODUCTION_KEY = "k3v-Jq9x_Lr2mW8tZp4sNc7yHb1dGf6aUe0oQi5XwVzRjTnYlKgMhBsDcEfPaS"
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": PRODUCTION_KEY,
    "ALLOWED_HOSTS": "prices.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://prices.example.com",
    "DATABASE_URL": "postgres://pricehub:secret@db.example.com:5432/pricehub",
    "VENUES": "public",
}


def check_deploy(**overrides: str) -> subprocess.CompletedProcess[str]:
    return manage("check", "--deploy", "--fail-level", "WARNING", **overrides)


def manage(*args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{name: value for name, value in os.environ.items() if name not in PRODUCTION_ENV},
        **PRODUCTION_ENV,
        **overrides,
        "DJANGO_SETTINGS_MODULE": "pricehub.settings_production",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_deploy_finds_no_issue_under_the_production_settings():
    done = check_deploy()
    assert done.stderr == ""
    assert done.returncode == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DEBUG": "true"}, "DEBUG is on"),
        ({"SECRET_KEY": ""}, "SECRET_KEY is unset or the development key"),
        ({"SECRET_KEY": "pricehub-insecure-development-key"}, "SECRET_KEY is unset"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is empty"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS has a wildcard"),
        ({"ALLOWED_HOSTS": "prices.example.com,.example.com"}, "ALLOWED_HOSTS has a wildcard"),
        ({"SECRET_KEY": "x"}, "SECRET_KEY is weak"),
        ({"SECRET_KEY": "ab" * 40}, "SECRET_KEY is weak"),
        ({"DATABASE_URL": "sqlite:///db.sqlite3"}, "DATABASE_URL is SQLite"),
        ({"VENUES": "simulated"}, "venues asked over plain http (binance http://127.0.0.1:8081, "),
        (
            {"KRAKEN_URL": "http://api.kraken.com"},
            "venues asked over plain http (kraken http://api.kraken.com)",
        ),
    ],
)
def test_the_production_settings_refuse_to_start_when_misconfigured(overrides, message):
    done = check_deploy(**overrides)
    assert done.returncode != 0
    assert f"ImproperlyConfigured: Production settings refuse to start: {message}" in done.stderr


@pytest.mark.parametrize("command", ["sim_assets", "accuracy"])
def test_the_production_settings_leave_out_the_simulators_commands(command):
    done = manage(command, "--help")
    assert done.returncode == 1
    assert f"Unknown command: '{command}'" in done.stderr


def settings_of(*names: str, **overrides: str) -> list[str]:
    """Return the production settings' values of names, as printed, one a line."""
    code = "from django.conf import settings as s; " + "; ".join(f"print(s.{n})" for n in names)
    done = manage("shell", "--no-imports", "-c", code, **overrides)
    assert done.stderr == ""
    return done.stdout.splitlines()


def test_the_production_settings_create_no_dynamodb_table():
    assert settings_of("PRICEHUB_DYNAMODB_CREATE_TABLES") == ["False"]


def test_the_passwords_handed_apart_go_into_the_redis_and_database_settings():
    given = {
        "REDIS_URL": "rediss://redis.internal:6379/0?ssl_cert_reqs=required",
        "REDIS_PASSWORD": "to/ken@1",
        "DATABASE_PASSWORD": "data base",
    }
    names = ("REDIS_URL", "CELERY_BROKER_URL", "DATABASES['default']['PASSWORD']")
    redis = "rediss://:to%2Fken%401@redis.internal:6379/0?ssl_cert_reqs=required"
    assert settings_of(*names, **given) == [redis, redis, "data base"]


def test_the_production_settings_take_compose_s_simulated_venues_by_their_names():
    compose = SERVICES["web"]["environment"]
    venues = {f"{kind.upper()}_URL": compose[f"{kind.upper()}_URL"] for kind in VENUES}
    assert check_deploy(VENUES="simulated", **venues).returncode != 0
    named = check_deploy(
        VENUES="simulated", VENUE_PRIVATE_HOSTS=compose["VENUE_PRIVATE_HOSTS"], **venues
    )
    assert (named.returncode, named.stderr) == (0, "")

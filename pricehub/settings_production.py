"""Production settings: the base settings, hardened; refuse to start when misconfigured.

Run with DJANGO_SETTINGS_MODULE=pricehub.settings_production behind a TLS-terminating proxy
that sets X-Forwarded-Proto. `manage.py check --deploy` reports no issues under it.
DYNAMODB_ENDPOINT_URL stays as the environment says: unset means AWS DynamoDB itself.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from pricehub.settings import *  # noqa: F403
from pricehub.settings import (
    DATABASES,
    DEBUG,
    DEVELOPMENT_SECRET_KEY,
    INSTALLED_APPS,
    PRICEHUB_SEED_VENUES,
    PRICEHUB_VENUE_PRIVATE_HOSTS,
    SECRET_KEY,
    env,
)


def _env_items(name: str) -> list[str]:
    """Return the comma-separated list in environment variable name, blanks dropped."""
    return [item.strip() for item in env.list(name, default=[]) if item.strip()]


def _refuse(problem: str) -> None:
    """Stop the process with problem, at import, before it serves anything."""
    raise ImproperlyConfigured(f"Production settings refuse to start: {problem}")


def _plain_http_venues() -> list[str]:
    """Return the seeded venues asked over plain http on a host VENUE_PRIVATE_HOSTS does not
    name."""
    return [
        f"{kind} {url}"
        for kind, url in PRICEHUB_SEED_VENUES.items()
        if (parts := urlsplit(url)).scheme != "https"
        and parts.hostname not in PRICEHUB_VENUE_PRIVATE_HOSTS
    ]


# The simulator's commands price simulated assets and inject faults: not for real venues.
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "mock_exchange_app"]

if DEBUG:
    _refuse("DEBUG is on; unset DEBUG or set DEBUG=false.")
if not SECRET_KEY or SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    _refuse("SECRET_KEY is unset or the development key; set a long random SECRET_KEY.")
# As Django's own check (security.W009) judges a key: long, and not one character repeated.
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    _refuse(
        "SECRET_KEY is weak; use at least 50 random characters, such as "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )
if "sqlite" in DATABASES["default"]["ENGINE"]:
    _refuse("DATABASE_URL is SQLite, which several processes cannot share; set postgres://...")

# The base default (localhost) means nothing in production, so the hosts must be named.
ALLOWED_HOSTS = _env_items("ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    _refuse("ALLOWED_HOSTS is empty; set it to the served host names, comma-separated.")
if any(host == "*" or host.startswith(".") for host in ALLOWED_HOSTS):
    _refuse("ALLOWED_HOSTS has a wildcard; name each served host.")
# Venues are on the internet: an exchange row may not point PriceHub at an internal service,
# and a venue on a public address is asked over https (exchanges/targets.py). Plain http is
# for simulated venues on private addresses: the hosts of VENUE_PRIVATE_HOSTS, or any host
# with VENUE_PRIVATE_ADDRESSES.
PRICEHUB_VENUE_PRIVATE_ADDRESSES = env.bool("VENUE_PRIVATE_ADDRESSES", default=False)
PRICEHUB_VENUE_HTTPS_ONLY = True
if not PRICEHUB_VENUE_PRIVATE_ADDRESSES and (plain := _plain_http_venues()):
    _refuse(
        f"venues asked over plain http ({', '.join(plain)}); set VENUES=public or https URLs "
        "(BINANCE_URL, ...), or name a simulated venue's host in VENUE_PRIVATE_HOSTS."
    )
# The history tables are the infrastructure's to make (deploy/aws): none is created at run time.
PRICEHUB_DYNAMODB_CREATE_TABLES = env.bool("DYNAMODB_CREATE_TABLES", default=False)
# Origins allowed to POST to the admin, such as https://prices.example.com.
CSRF_TRUSTED_ORIGINS = _env_items("CSRF_TRUSTED_ORIGINS")

# TLS ends at a proxy in front of the front, which sets X-Forwarded-Proto itself (from that proxy
# alone when FRONT_TRUSTED_PROXY names it): the app is reachable through the front alone.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Probes and the Prometheus scrape reach the API's server over plain HTTP, from inside the
# network, on its own address (the front does not pass /readyz and /metrics).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

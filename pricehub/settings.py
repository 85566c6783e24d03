"""PriceHub settings: every tunable from the environment, with a sane default.

Each is listed in the configuration table of docs/operations.md.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit

import environ
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# Good for a laptop only: production settings refuse to start with it.
DEVELOPMENT_SECRET_KEY = "pricehub-insecure-development-key"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "exchanges",
    "aggregation",
    # The simulated venues' commands (sim_assets, accuracy): development only, so the
    # production settings drop it.
    "mock_exchange_app",
]

# Django's own refusals answer in PriceHub's JSON error body too (see pricehub/urls.py).
CSRF_FAILURE_VIEW = "common.errors.csrf_failure"
MIDDLEWARE = [
    "common.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Answers If-None-Match with 304 when the ETag a view set still matches.
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "pricehub.edge.PagePolicyMiddleware",
    # Answers a locked-out admin login (pricehub/security.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pricehub.urls"
WSGI_APPLICATION = "pricehub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite by default; DATABASE_URL=postgres://... switches to PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# The database's password, when not in DATABASE_URL (ECS hands it from Secrets Manager).
if _database_password := env.str("DATABASE_PASSWORD", default=""):
    DATABASES["default"]["PASSWORD"] = _database_password
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Redis: the latest price per asset, the Celery broker and the due set of the beat tick.
# REDIS_PASSWORD, when set, is REDIS_URL's password (on AWS, ElastiCache's AUTH token, which
# ECS hands from Secrets Manager); a rediss:// URL takes ?ssl_cert_reqs=required for Celery.
_redis = urlsplit(env.str("REDIS_URL", default="redis://127.0.0.1:6379/0"))
if _password := quote(env.str("REDIS_PASSWORD", default=""), safe=""):
    _redis = _redis._replace(netloc=f":{_password}@{_redis.netloc.rpartition('@')[2]}")
REDIS_URL = _redis.geturl()
# A Redis that does not connect or answer within these is unavailable (common/redis_store).
REDIS_CONNECT_TIMEOUT_SECONDS = env.float("REDIS_CONNECT_TIMEOUT_SECONDS", default=1.0)
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=1.0)
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "pricehub",
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": REDIS_CONNECT_TIMEOUT_SECONDS,
            "SOCKET_TIMEOUT": REDIS_TIMEOUT_SECONDS,
            # Data only: a value read from Redis never runs code.
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
            # A Redis outage turns reads into misses, so the API falls back to DynamoDB.
            "IGNORE_EXCEPTIONS": True,
        },
    }
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# DynamoDB history. Unset DYNAMODB_ENDPOINT_URL means AWS itself (region and credentials
# from the usual AWS chain); `make run` and the tests point it at DynamoDB Local.
DYNAMODB_ENDPOINT_URL = env.str("DYNAMODB_ENDPOINT_URL", default=None)
DYNAMODB_TABLE = env.str("DYNAMODB_TABLE", default="prices")
AWS_REGION = env.str("AWS_REGION", default="us-east-1")
# PriceHub's own tunables, each a PRICEHUB_ setting read from the environment, and the edge's:
# the admin login's lockout and the Content-Security-Policy.
from pricehub.security import *  # noqa: E402, F403
from pricehub.stream_schema import STREAM_SCHEMA  # noqa: E402
from pricehub.tunables import *  # noqa: E402, F403
from pricehub.tunables import (  # noqa: E402  (the ones the settings below use)
    PRICEHUB_BEAT_TICK_SECONDS,
    PRICEHUB_CATALOGUE_SECONDS,
    PRICEHUB_HISTORY_DRAIN_EVERY_SECONDS,
    PRICEHUB_PROMOTION_SECONDS,
)

# Celery: broker on Redis, JSON only, no result backend (tasks report through Redis and DynamoDB).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
# A task past the soft limit is told to stop; past the hard one its thread is given up.
CELERY_TASK_TIME_LIMIT = env.int("TASK_TIME_LIMIT_SECONDS", default=30)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("TASK_SOFT_TIME_LIMIT_SECONDS", default=20)
# A refresh lock outlives any refresh (a batch's task ends by the hard limit), so a crashed
# holder's lock expires on its own.
PRICEHUB_REFRESH_LOCK_SECONDS = CELERY_TASK_TIME_LIMIT
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A queue for the beat's ticks and one for each tier's batches ("celery" takes the cold ones),
# which a worker consumes in this order of priority: a tick, a hot or a medium batch never
# waits behind a backlog of colder ones. The history drain has a queue, and a worker, of its
# own (see the history block below).
CELERY_TASK_QUEUES = [Queue(name) for name in ("beat", "hot", "medium", "celery", "history")]
CELERY_BROKER_TRANSPORT_OPTIONS = {"queue_order_strategy": "priority"}
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "aggregation.tasks.dispatch_due_refreshes": {"queue": "beat"},
    "aggregation.tasks.record_history": {"queue": "history"},
}
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-refreshes": {
        "task": "aggregation.tasks.dispatch_due_refreshes",
        "schedule": PRICEHUB_BEAT_TICK_SECONDS,
    },
    "promote-requested-assets": {
        "task": "aggregation.tasks.promote_requested_assets",
        "schedule": PRICEHUB_PROMOTION_SECONDS,
    },
    "sync-markets": {
        "task": "exchanges.tasks.sync_markets",
        "schedule": PRICEHUB_CATALOGUE_SECONDS,
        "options": {"expires": PRICEHUB_CATALOGUE_SECONDS},
    },
    # A drain still queued when the next is sent is superseded by it.
    "record-history": {
        "task": "aggregation.tasks.record_history",
        "schedule": PRICEHUB_HISTORY_DRAIN_EVERY_SECONDS,
        "options": {"expires": PRICEHUB_HISTORY_DRAIN_EVERY_SECONDS},
    },
}

# API tokens (`Authorization: Token <key>`) lift the refresh throttle; reads need none.
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "common.errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": False,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # How many proxies in front of PriceHub append to X-Forwarded-For: throttles key a client
    # on the address the outermost of them saw. 0 (the default) keys on the connection's
    # address and ignores the header, which any client can write.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    # Throttle counts live in the default cache, Redis, so they hold across processes.
    "DEFAULT_THROTTLE_RATES": {
        "refresh_anon": env.str("REFRESH_ANON_RATE", default="10/min"),
        "refresh_token": env.str("REFRESH_TOKEN_RATE", default="600/min"),
        "read": env.str("READ_RATE", default="1200/min"),
    },
}
# Per-client throttling of reads costs a Redis round trip per request, so it is off unless
# asked for; in production, rate-limit reads at the front (docs/operations.md).
PRICEHUB_THROTTLE_READS = env.bool("THROTTLE_READS", default=False)

SPECTACULAR_SETTINGS = {
    "TITLE": "PriceHub API",
    "DESCRIPTION": "Real-time cryptocurrency prices aggregated from several exchanges.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files are served by PriceHub itself, not fetched from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # GET /stream is an async Django view, which the schema generator does not see.
    "APPEND_PATHS": {"/stream": STREAM_SCHEMA},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# The venues' base URLs: the simulated venues of `make run`, or with VENUES=public the real
# venues' public APIs. The seed migrations create the Exchange rows with them (each
# overridden by BINANCE_URL, ...); `manage.py venues use` points existing rows at them.
PRICEHUB_VENUE_URLS = {
    "simulated": {
        "binance": "http://127.0.0.1:8081",
        "coinbase": "http://127.0.0.1:8082",
        "kraken": "http://127.0.0.1:8083",
        "okx": "http://127.0.0.1:8084",
        "bybit": "http://127.0.0.1:8085",
        "bitstamp": "http://127.0.0.1:8086",
    },
    "public": {
        "binance": "https://api.binance.com",
        "coinbase": "https://api.exchange.coinbase.com",
        "kraken": "https://api.kraken.com",
        "okx": "https://www.okx.com",
        "bybit": "https://api.bybit.com",
        "bitstamp": "https://www.bitstamp.net",
    },
}
PRICEHUB_VENUES = env.str("VENUES", default="simulated")
_URLS = PRICEHUB_VENUE_URLS[PRICEHUB_VENUES]
PRICEHUB_SEED_VENUES = {
    kind: env.str(f"{kind.upper()}_URL", default=url) for kind, url in _URLS.items()
}

# Circuit breaker per venue, its state in Redis for every process: this many failed requests
# in a row open it; after RESET seconds one trial request may close it again.
PRICEHUB_CIRCUIT_FAIL_MAX = env.int("CIRCUIT_FAIL_MAX", default=5)
PRICEHUB_CIRCUIT_RESET_SECONDS = env.float("CIRCUIT_RESET_SECONDS", default=30.0)

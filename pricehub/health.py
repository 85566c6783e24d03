"""Probes: /healthz says the process answers, /readyz that Redis, DynamoDB and the broker do;
and /metrics. /readyz and /metrics answer on the API's server's own address only: the front
does not pass them (deploy/nginx.conf.template)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aggregation.history import backlog, client
from common import redis_store
from common.errors import ApiError, ErrorOutput, method_not_allowed
from common.metrics import exposition
from exchanges.circuits import CircuitStates
from pricehub.celery import QueueLengths, celery_app

logger = logging.getLogger(__name__)


def broker_ping() -> None:
    """Connect once to the Celery broker."""
    seconds = settings.PRICEHUB_HEALTH_CHECK_TIMEOUT_SECONDS
    # connect_timeout bounds AMQP; a Redis broker takes its socket timeouts as transport options.
    timeouts = {"socket_timeout": seconds, "socket_connect_timeout": seconds}
    with celery_app.connection_for_write(
        connect_timeout=seconds, transport_options=timeouts
    ) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=seconds)


CHECKS: dict[str, Callable[[], None]] = {
    "redis": redis_store.ping,
    "dynamodb": client.ping,
    "broker": broker_ping,
}


def run_checks() -> dict[str, str]:
    """Run every check at once; return "ok", "failed" or "timed out" for each."""
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="readyz")
    futures = {name: pool.submit(check) for name, check in CHECKS.items()}
    # Client retries can outlast any one socket timeout, so the probe keeps its own deadline;
    # a check still running after it ends on its client's timeouts, unwaited for.
    wait(futures.values(), timeout=settings.PRICEHUB_HEALTH_CHECK_TIMEOUT_SECONDS)
    pool.shutdown(wait=False, cancel_futures=True)
    return {name: _outcome(name, future) for name, future in futures.items()}


def _outcome(name: str, future: Future[None]) -> str:
    # An error's text names hosts, ports and accounts: it goes to the log, never to the answer.
    if not future.done():
        logger.warning("Readiness: %s timed out", name)
        return "timed out"
    exc = future.exception()
    if exc is None:
        return "ok"
    logger.warning("Readiness: %s failed", name, exc_info=exc)
    return "failed"


class HealthOutput(serializers.Serializer):
    status = serializers.CharField(help_text="Always ok: the process answers.")


class ChecksOutput(serializers.Serializer):
    # Only the outcome: why a check failed is in the log.
    redis = serializers.CharField(help_text="The cache's Redis: ok, failed or timed out.")
    dynamodb = serializers.CharField(help_text="The history table: ok, failed or timed out.")
    broker = serializers.CharField(help_text="The Celery broker: ok, failed or timed out.")


class ReadyOutput(serializers.Serializer):
    status = serializers.CharField(help_text="Always ready.")
    checks = ChecksOutput()


class NotReadyOutput(ErrorOutput):
    checks = ChecksOutput()


class ProbeView(APIView):
    # Probes come without credentials and must never be throttled away.
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()


class HealthView(ProbeView):
    @extend_schema(
        responses={200: HealthOutput}, summary="Liveness: the process answers", tags=["health"]
    )
    def get(self, request: Request) -> Response:
        return Response(HealthOutput({"status": "ok"}).data)


@csrf_exempt  # a POST gets its 405, not the CSRF check's 403
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus's scrape of every process on the host, of the venues' circuits, of the
    history backlog and of the Celery queues."""
    if request.method not in {"GET", "HEAD"}:
        return method_not_allowed(("GET", "HEAD"))
    body = exposition(CircuitStates(), backlog.Backlog(), QueueLengths())
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


class ReadyView(ProbeView):
    @extend_schema(
        responses={
            200: ReadyOutput,
            503: OpenApiResponse(NotReadyOutput, "not_ready: checks says which backend failed."),
        },
        summary="Readiness: Redis, DynamoDB and the Celery broker answer",
        description="On the API's server's own address only: the front answers it 404.",
        tags=["health"],
    )
    def get(self, request: Request) -> Response:
        checks = run_checks()
        failed = [name for name, outcome in checks.items() if outcome != "ok"]
        if failed:
            detail = f"PriceHub cannot reach {', '.join(failed)}."
            raise ApiError(503, "not_ready", detail, checks=checks)
        return Response(ReadyOutput({"status": "ready", "checks": checks}).data)

"""`make run`: the whole PriceHub stack in the foreground under honcho; Ctrl-C stops it all."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from honcho.manager import Manager

from deploy.services import ROOT, dynamodb_command, front_command, redis_answers, redis_command

DATA = ROOT / "data"
PY = sys.executable
VENUES = {"binance": 8081, "coinbase": 8082, "kraken": 8083}
DYNAMODB_PORT = 8000
# Every process writes its Prometheus samples here; the web's /metrics adds them all up.
PROMETHEUS_DIR = DATA / "prometheus"
# The front (nginx) answers on 8080 and passes /stream to the stream server, the rest to the
# API's server; those two listen on 127.0.0.1 only.
FRONT_PORT, WEB_PORT, STREAM_PORT = 8080, 8079, 8090
# The API's server: Granian, two worker processes of 8 threads; granian restarts a crashed one.
WEB = (
    f"{PY} -m granian pricehub.wsgi:application --interface wsgi --host 127.0.0.1"
    f" --port {WEB_PORT} --workers 2 --blocking-threads 8 --respawn-failed-workers"
    " --log-level warning"
)

# GET /stream's server: its subscribers wait on event loops, never on the web's threads. Each
# stream is a request that lasts, so a worker takes up to 5,000 at once (Granian's default
# is its backlog shared among the workers: 512 each).
STREAM = (
    f"{PY} -m granian pricehub.asgi:application --interface asginl --host 127.0.0.1"
    f" --port {STREAM_PORT} --workers 2 --backlog 2048 --backpressure 5000"
    " --respawn-failed-workers --log-level warning"
)


def main() -> int:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # The development stack's venues take faults (docs/operations.md, Simulated venue faults);
    # off by default.
    env.setdefault("SIM_FAULTS", "true")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    # The front appends each client's address to X-Forwarded-For; the throttle keys on it.
    env.setdefault("NUM_PROXIES", "1")
    DATA.mkdir(exist_ok=True)
    manager = Manager()
    waits = []
    if not redis_answers(env["REDIS_URL"]):
        port = urlsplit(env["REDIS_URL"]).port or 6379
        (DATA / "redis").mkdir(exist_ok=True)
        manager.add_process("redis", kept(shlex.join(redis_command(port, DATA / "redis"))))
        waits.append(port)
    if not env.get("DYNAMODB_ENDPOINT_URL"):
        env["DYNAMODB_ENDPOINT_URL"] = f"http://127.0.0.1:{DYNAMODB_PORT}"
        (DATA / "dynamodb").mkdir(exist_ok=True)
        # DynamoDB Local on disk writes about 700 items a second here; in memory, several
        # times more (the scale benchmark's ten thousand assets write about a thousand).
        in_memory = env.get("DYNAMODB_IN_MEMORY", "").lower() in {"1", "true", "yes"}
        command = dynamodb_command(DYNAMODB_PORT, None if in_memory else DATA / "dynamodb")
        manager.add_process("dynamodb", kept(shlex.join(command)), cwd=str(DATA / "dynamodb"))
        waits.append(DYNAMODB_PORT)

    commands = [["migrate", "--no-input"], ["collectstatic", "--no-input", "-v0"]]
    if env.get("SIM_ASSETS"):
        # The venues quote SIM_ASSETS assets (they inherit env); price the same ones.
        commands.insert(1, ["sim_assets", env["SIM_ASSETS"]])
    for args in commands:
        subprocess.run([PY, "manage.py", *args], env=env, cwd=ROOT, check=True)  # noqa: S603

    # Set after the one-off commands above, so only the long-running processes leave samples.
    env["PROMETHEUS_MULTIPROC_DIR"] = str(fresh_prometheus_dir())
    for venue, port in VENUES.items():
        manager.add_process(
            venue, kept(f"{PY} -m mock_exchange_app {venue} --port {port}"), env=env
        )
    # The worker and beat start once their services and the venues listen, so the first
    # refreshes find everyone up.
    waits.extend(VENUES.values())
    wait = f"{PY} -m deploy.services wait {' '.join(map(str, waits))} && exec "
    celery = f"{wait}{PY} -m celery -A pricehub"
    processes = {
        # The refreshes, at a lower CPU priority than the reads and the ticks, which wait for
        # none of them; sixteen threads, so a hot batch finds one free beside slow cold ones.
        # The beat's ticks run apart, in a process of their own, so a busy worker never holds
        # a tick back.
        "worker": f"{wait}nice -n 5 {PY} -m celery -A pricehub worker -Q hot,medium,celery"
        " --pool threads --concurrency 16"
        " --loglevel WARNING -n worker@%h",
        "ticker": f"{celery} worker -Q beat --pool solo --loglevel WARNING -n ticker@%h",
        # History is recorded apart: a refresh hands its prices over and never waits on
        # DynamoDB; this worker drains them into it, one drain at a time.
        "history": f"{celery} worker -Q history --pool solo --loglevel WARNING -n history@%h",
        "beat": f"{celery} beat --loglevel WARNING --schedule {DATA / 'celerybeat-schedule'}",
        "web": WEB,
        "stream": STREAM,
        "front": shlex.join(
            front_command(
                f"127.0.0.1:{FRONT_PORT}",
                f"127.0.0.1:{WEB_PORT}",
                f"127.0.0.1:{STREAM_PORT}",
                DATA / "front",
            )
        ),
    }
    for name, command in processes.items():
        manager.add_process(name, kept(command), env=env, cwd=str(ROOT))
    manager.loop()
    return manager.returncode


def kept(command: str) -> str:
    """Return command run under deploy/keep.py, which starts it again whenever it dies."""
    return f"{PY} {ROOT / 'deploy' / 'keep.py'} {shlex.quote(command)}"


def fresh_prometheus_dir() -> Path:
    """Return the multiprocess metrics folder, emptied of the last run's dead processes."""
    shutil.rmtree(PROMETHEUS_DIR, ignore_errors=True)
    PROMETHEUS_DIR.mkdir(parents=True)
    return PROMETHEUS_DIR


if __name__ == "__main__":
    sys.exit(main())

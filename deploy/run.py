"""`make run`: the whole PriceHub stack in the foreground under honcho; Ctrl-C stops it all,
each process after those that need it."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from honcho.manager import Manager

from deploy.services import (
    ROOT,
    dynamodb_command,
    front_command,
    redis_answers,
    redis_command,
    waiting_for,
)

# Where the stack keeps its data (DATA_DIR overrides it) and, each overridden by its
# environment variable, where its servers listen: a test runs a stack of its own beside this one.
DATA = ROOT / "data"
PY = sys.executable
VENUES = {  # BINANCE_URL, ...
    "binance": 8081,
    "coinbase": 8082,
    "kraken": 8083,
    "okx": 8084,
    "bybit": 8085,
    "bitstamp": 8086,
}
DYNAMODB_PORT = 8000  # DYNAMODB_PORT
# The front (nginx) answers on 8080 and passes /stream to the stream server, the rest to the
# API's server; those two listen on 127.0.0.1 only, where the API's server also answers
# /metrics and /readyz, which the front does not pass. FRONT_PORT, WEB_PORT, STREAM_PORT.
FRONT_PORT, WEB_PORT, STREAM_PORT = 8080, 8079, 8090
# The API's server: Granian, two worker processes of 8 threads; granian restarts a crashed one.
WEB = (
    f"{PY} -m granian pricehub.wsgi:application --interface wsgi --host 127.0.0.1"
    " --port {port} --workers 2 --blocking-threads 8 --respawn-failed-workers"
    " --log-level warning"
)

# GET /stream's server: its subscribers wait on an event loop, never on the web's threads. One
# worker: sending a price to 1,000 subscribers is a burst of about 35 ms of CPU, and two workers
# took both of this host's cores at once while the reads waited (docs/benchmarks.md). Each
# stream is a request that lasts, so the worker takes up to 10,000 at once (Granian's default
# is its backlog: 512), and a stream still open when the stack stops never ends by itself:
# Granian kills a worker still serving one 3 s after it asked it to stop, with a warning.
STREAM = (
    f"{PY} -m granian pricehub.asgi:application --interface asginl --host 127.0.0.1"
    " --port {port} --workers 1 --backlog 2048 --backpressure 10000"
    " --respawn-failed-workers --workers-kill-timeout 3 --log-level warning"
)

# The work no read waits for (the refreshes, the ticks, the history and the streams' fan-out)
# runs below the reads, at nice BELOW_READS (a third of their weight for the CPU): on a host
# the reads share with it, a read's request is seldom kept waiting for a core, and the hot
# assets stay as fresh under a load that saturates the host (docs/benchmarks.md, The reads
# first). deploy/lower.py sets it for the process's session too, without which the kernel's
# grouping of sessions (autogroup) makes it count for nothing: each process here has a session
# of its own.
BELOW_READS = 5
# The simulated venues stand for machines of their own: the CPU they take here, which no real
# venue takes from PriceHub's host, runs further below, at nice SIMULATED.
SIMULATED = 10


def lowered(level: int) -> str:
    """Return the prefix that runs a command at nice level, its session too."""
    return f"{PY} {ROOT / 'deploy' / 'lower.py'} {level} "


# Ctrl-C stops the processes in stages, each once the one before has stopped: the front, the
# servers behind it, the beat, the workers, the venues they ask (and any process not named),
# then Redis and DynamoDB Local, so that nothing outlives what it needs and logs its loss. A
# stage still running after STAGE_SECONDS is left to honcho, which kills what remains 5 s
# after the last stage.
STOP_ORDER = [
    ["front"],
    ["web", "stream"],
    ["beat"],
    ["worker", "ticker", "history"],
    list(VENUES),
    ["redis", "dynamodb"],
]
STAGE_SECONDS = 15.0


class Stack(Manager):
    """honcho's Manager, stopping its processes (each a process group) in STOP_ORDER."""

    def terminate(self) -> None:
        if self._terminating:
            return
        self._terminating = True
        groups = {name: each["pid"] for name, each in self._processes.items() if "pid" in each}
        listed = {name for stage in STOP_ORDER for name in stage}
        *first, last = STOP_ORDER
        for stage in [*first, [name for name in groups if name not in listed], last]:
            stopping = [name for name in stage if name in groups]
            if not stopping:
                continue
            self._system_print(f"stopping {', '.join(stopping)}\n")
            # Each process is told once, through its keeper (deploy/keep.py), signalled alone.
            # A SIGTERM to the whole group, as honcho sends it, reached each command twice (from
            # honcho and from its keeper): Celery's beat, told again as it exited, printed a
            # traceback; and it reached Granian's workers before Granian, which reports their
            # exits as unexpected (an ERROR line). A group still running at the end of its
            # stage gets it whole.
            for name in stopping:
                os.kill(groups[name], signal.SIGTERM)
            ends = time.monotonic() + STAGE_SECONDS
            while _alive([groups[name] for name in stopping]) and time.monotonic() < ends:
                time.sleep(0.1)
            for name in stopping:
                if _alive([groups[name]]):
                    self._procmgr.terminate(groups[name])


def _alive(groups: list[int]) -> bool:
    """Return whether a process of one of groups is alive: a zombie only waits for honcho to
    reap it."""
    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) in groups:
                return True
        except ProcessLookupError:  # gone since the list was made
            continue
    return False


def dynamodb_endpoint(env: dict[str, str]) -> str:
    """Return the DynamoDB a stack started with env uses: the one it names, else the DynamoDB
    Local it starts on DYNAMODB_PORT."""
    port = int(env.get("DYNAMODB_PORT", DYNAMODB_PORT))
    return env.get("DYNAMODB_ENDPOINT_URL") or f"http://127.0.0.1:{port}"


def main() -> int:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # The development stack's venues take faults (docs/operations.md, Simulated venue faults);
    # off by default.
    env.setdefault("SIM_FAULTS", "true")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    # The front appends each client's address to X-Forwarded-For; the throttle keys on it.
    env.setdefault("NUM_PROXIES", "1")
    data = Path(env.get("DATA_DIR", DATA))
    data.mkdir(parents=True, exist_ok=True)
    # The venues' market-wide control (PUT /sim/market), shared by the three venue processes.
    env.setdefault("SIM_MARKET_FILE", str(data / "sim-market.json"))
    front_port = int(env.get("FRONT_PORT", FRONT_PORT))
    web_port = int(env.get("WEB_PORT", WEB_PORT))
    stream_port = int(env.get("STREAM_PORT", STREAM_PORT))
    manager = Stack()
    # What PriceHub's processes need before they start, as (kind, target) pairs of
    # deploy.services.ANSWERS: the Redis and the DynamoDB Local started here answering, and the
    # one-off commands done.
    needs = []
    if not redis_answers(env["REDIS_URL"]):
        port = urlsplit(env["REDIS_URL"]).port or 6379
        (data / "redis").mkdir(exist_ok=True)
        manager.add_process("redis", kept(shlex.join(redis_command(port, data / "redis"))))
        needs.append(("redis", env["REDIS_URL"]))
    if not env.get("DYNAMODB_ENDPOINT_URL"):
        env["DYNAMODB_ENDPOINT_URL"] = dynamodb_endpoint(env)
        (data / "dynamodb").mkdir(exist_ok=True)
        # DynamoDB Local on disk writes about 700 items a second here; in memory, several
        # times more (the scale benchmark's ten thousand assets write about a thousand).
        in_memory = env.get("DYNAMODB_IN_MEMORY", "").lower() in {"1", "true", "yes"}
        port = urlsplit(env["DYNAMODB_ENDPOINT_URL"]).port
        command = dynamodb_command(port, None if in_memory else data / "dynamodb")
        manager.add_process("dynamodb", kept(shlex.join(command)), cwd=str(data / "dynamodb"))
        needs.append(("dynamodb", env["DYNAMODB_ENDPOINT_URL"]))
    # Each venue listens where its exchange row points (the seed migration's BINANCE_URL, ...).
    venues = {
        venue: env.setdefault(f"{venue.upper()}_URL", f"http://127.0.0.1:{port}")
        for venue, port in VENUES.items()
    }

    commands = [["migrate", "--no-input"], ["collectstatic", "--no-input", "-v0"]]
    if env.get("SIM_ASSETS"):
        # The venues quote SIM_ASSETS assets (they inherit env); price the same ones.
        commands.insert(1, ["sim_assets", env["SIM_ASSETS"]])
    # The one-off commands run while Redis and DynamoDB Local start; they leave no metrics
    # samples (only the long-running processes do).
    prepared = prepare(commands, env, data / "prepared")
    # Every process writes its Prometheus samples there; the web's /metrics adds them all up.
    env["PROMETHEUS_MULTIPROC_DIR"] = str(fresh_prometheus_dir(data / "prometheus"))
    for venue, url in venues.items():
        port = urlsplit(url).port
        manager.add_process(
            venue,
            kept(f"{lowered(SIMULATED)}{PY} -m mock_exchange_app {venue} --port {port}"),
            env=env,
        )
    # Each process starts once what it needs answers, so that none meets a service still
    # starting: the API's and the stream servers once the needs above are met, the Celery
    # workers and the beat once the venues answer too (so the first refreshes find everyone
    # up), and the front once those two servers answer.
    needs.append(("file", str(prepared)))
    wait = waiting_for([*needs, *(("http", url) for url in venues.values())])
    servers = [("http", f"http://127.0.0.1:{port}/healthz") for port in (web_port, stream_port)]
    celery = f"{wait}{lowered(BELOW_READS)}{PY} -m celery -A pricehub"
    processes = {
        # The refreshes: sixteen threads, so a hot batch finds one free beside slow cold ones.
        # The beat's ticks run apart, in a process of their own, so a busy worker never holds
        # a tick back.
        "worker": f"{celery} worker -Q hot,medium,celery"
        " --pool threads --concurrency 16"
        " --loglevel WARNING -n worker@%h",
        "ticker": f"{celery} worker -Q beat --pool solo --loglevel WARNING -n ticker@%h",
        # History is recorded apart: a refresh hands its prices over and never waits on
        # DynamoDB; this worker drains them into it, one drain at a time.
        "history": f"{celery} worker -Q history --pool solo --loglevel WARNING -n history@%h",
        "beat": f"{celery} beat --loglevel WARNING --schedule {data / 'celerybeat-schedule'}",
        "web": waiting_for(needs) + WEB.format(port=web_port),
        "stream": waiting_for(needs) + lowered(BELOW_READS) + STREAM.format(port=stream_port),
        "front": waiting_for(servers)
        + shlex.join(
            front_command(
                f"127.0.0.1:{front_port}",
                f"127.0.0.1:{web_port}",
                f"127.0.0.1:{stream_port}",
                data / "front",
                env,
            )
        ),
    }
    for name, command in processes.items():
        manager.add_process(name, kept(command), env=env, cwd=str(ROOT))
    manager.loop()
    return manager.returncode


def prepare(commands: list[list[str]], env: dict[str, str], done: Path) -> Path:
    """Start manage.py's commands in the background, one after the other; create the file
    done when they all succeed, or stop the stack (a SIGTERM to this process) when one fails.
    Return done. Call it before honcho forks its processes: a start that overlaps a fork
    leaks its pipe into the forked process and never returns."""
    done.unlink(missing_ok=True)
    steps = " && ".join(shlex.join([PY, "manage.py", *args]) for args in commands)
    stop = f"echo 'deploy.run: a one-off command failed; stopping' >&2; kill -TERM {os.getpid()}"
    chain = f"{steps} && touch {shlex.quote(str(done))} || {{ {stop}; }}"
    subprocess.Popen(["/bin/sh", "-c", chain], env=env, cwd=ROOT)  # noqa: S603
    return done


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `python -m deploy.run` with env, its output to log, in a session of its own: a
    SIGINT to that session (os.killpg) is Ctrl-C."""
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603
            [PY, "-m", "deploy.run"], cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def kept(command: str) -> str:
    """Return command run under deploy/keep.py, which starts it again whenever it dies. The
    shell honcho starts becomes the keeper, and the keeper's shell the command (exec, both):
    the keeper leads its process group, and the signal it passes on reaches the command."""
    return f"exec {PY} {ROOT / 'deploy' / 'keep.py'} {shlex.quote(f'exec {command}')}"


def fresh_prometheus_dir(directory: Path) -> Path:
    """Return the multiprocess metrics folder, emptied of the last run's dead processes."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


if __name__ == "__main__":
    sys.exit(main())

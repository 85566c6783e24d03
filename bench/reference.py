"""The yardstick: a bare WSGI app answering one recorded PriceHub answer, under gunicorn.

`make bench` serves it with gunicorn gthread (2 workers x 4 threads) on a free loopback port, so
each figure of the real stack also reads as a ratio to what a plain WSGI server does on the same
machine at the same moment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from bench.stack import stop_group
from deploy.services import ROOT, free_port

BODY_VARIABLE = "BENCH_REFERENCE_BODY"
TYPE_VARIABLE = "BENCH_REFERENCE_CONTENT_TYPE"

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def make_app() -> WSGIApp:
    """Return a WSGI app answering the body and Content-Type the environment names."""
    body = Path(os.environ[BODY_VARIABLE]).read_bytes()
    headers = [("Content-Type", os.environ[TYPE_VARIABLE]), ("Content-Length", str(len(body)))]

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        start_response("200 OK", headers)
        return [body]

    return app


@contextmanager
def serving(*, body: bytes, content_type: str) -> Iterator[str]:
    """Serve body under gunicorn gthread (2 workers x 4 threads); yield its base URL."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pricehub-bench-") as folder:
        body_file = Path(folder) / "body"
        body_file.write_bytes(body)
        env = dict(os.environ, **{BODY_VARIABLE: str(body_file), TYPE_VARIABLE: content_type})
        command = [
            sys.executable, "-m", "gunicorn", "bench.reference:make_app()",
            "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread",
            "--workers", "2", "--threads", "4", "--no-control-socket",
        ]  # fmt: skip
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_for(url, body, process)
            yield url
        finally:
            stop_group(process, timeout=15)


def _wait_for(url: str, body: bytes, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(url, timeout=1).content == body:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the reference app did not answer its body at {url}")

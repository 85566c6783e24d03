"""The accuracy scenarios in `make bench`: `manage.py accuracy` against the bench's stack, its
table printed and written to bench/results/accuracy.md."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from bench import stack, tools

ROOT = Path(__file__).resolve().parent.parent
ASSET = "BTCUSD"


def run(*, started: dt.datetime, commit: str, machine: str) -> str:
    """Run every accuracy scenario on the running stack; print and write its table."""
    command = [sys.executable, "manage.py", "accuracy", "--asset", ASSET]
    done = subprocess.run(  # noqa: S603
        command, cwd=ROOT, env=stack.environment(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise tools.ToolError(f"manage.py accuracy failed: {done.stderr.strip()[-500:]}")
    print("\n" + done.stdout)
    (ROOT / "bench" / "results" / "accuracy.md").write_text(
        f"# PriceHub bench: accuracy\n\n- date: {started:%Y-%m-%d %H:%M} UTC\n"
        f"- commit: {commit}\n- machine: {machine}\n"
        f"- command: `{' '.join(command[1:])}`, on the bench's stack (`make run`, every venue's "
        "rate limit on), after its load; see docs/benchmarks.md#accuracy\n\n"
        f"```text\n{done.stdout.strip()}\n```\n"
    )
    return done.stdout

"""Run the load tools (wrk, hey) and read their figures into one shape."""

from __future__ import annotations

import json
import math
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_report.lua"
# One wrk thread drives far more than this server answers and leaves the cores to the server.
WRK_THREADS = 1
TIMEOUT_SECONDS = 10  # a slower answer counts as an error in both tools


class ToolError(Exception):
    """A load tool failed to run or printed no figures."""


@dataclass(frozen=True)
class Measurement:
    """What one load-tool run measured; req/s counts answers of any status."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int  # socket errors, timeouts and answers outside 2xx/3xx (hey: other than 200)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # failed requests by reason


def wrk(
    url: str, *, connections: int, seconds: float, think_ms: int = 0, paths: Path | None = None
) -> Measurement:
    """Load url from `connections` keep-alive connections for `seconds` with wrk; with a
    think time, each connection waits about that long before each request; with a file of
    paths, each request asks for one of them at random, on url's host."""
    command = [
        "wrk", "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{seconds:g}s",
        "--timeout", f"{TIMEOUT_SECONDS}s", "-s", str(WRK_SCRIPT), url,
        "--", str(think_ms), *([str(paths)] if paths else []),
    ]  # fmt: skip
    return parse_wrk(_run(command, seconds))


def hey(url: str, *, clients: int, rate: int, seconds: float) -> Measurement:
    """Load url from `clients` clients each offering `rate` requests a second, with hey."""
    command = [
        "hey", "-c", str(clients), "-q", str(rate), "-z", f"{seconds:g}s",
        "-t", str(TIMEOUT_SECONDS), url,
    ]  # fmt: skip
    return parse_hey(_run(command, seconds))


def _run(command: list[str], seconds: float) -> str:
    try:
        done = subprocess.run(  # noqa: S603
            command, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"{command[0]} did not run: {exc}") from exc
    if done.returncode != 0:
        raise ToolError(f"{command[0]} exited {done.returncode}: {done.stdout}{done.stderr}")
    return done.stdout


def parse_wrk(output: str) -> Measurement:
    """Read the line bench/wrk_report.lua's done() prints."""
    for line in output.splitlines():
        if line.startswith("wrk-report "):
            report = json.loads(line.removeprefix("wrk-report "))
            break
    else:
        raise ToolError(f"wrk printed no report line:\n{output}")
    return Measurement(
        requests=report["requests"],
        seconds=report["duration_s"],
        rps=report["rps"],
        p50_ms=report["p50_ms"],
        p95_ms=report["p95_ms"],
        p99_ms=report["p99_ms"],
        errors=report["errors"],
        statuses={int(status): n for status, n in report["statuses"].items()},
        failures={kind: n for kind, n in report["socket_errors"].items() if n},
    )


def parse_hey(output: str) -> Measurement:
    """Read hey's summary; req/s counts answers only, as wrk does (hey's own adds failures)."""
    total = re.search(r"^\s*Total:\s+([\d.]+) secs", output, re.MULTILINE)
    if total is None:
        raise ToolError(f"hey printed no summary:\n{output}")
    seconds = float(total.group(1))
    answers, _, failed = output.partition("Error distribution:")
    statuses = {
        int(status): int(n)
        for status, n in re.findall(r"^\s*\[(\d+)\]\s+(\d+) responses", answers, re.MULTILINE)
    }
    failures = {
        # Go's errors name the request first: 'Get "http://...": the reason'.
        reason.split('": ', 1)[-1]: int(n)
        for n, reason in re.findall(r"^\s*\[(\d+)\]\s+(.*)$", failed, re.MULTILINE)
    }
    requests = sum(statuses.values())
    return Measurement(
        requests=requests,
        seconds=seconds,
        rps=requests / seconds if seconds else 0.0,
        p50_ms=_hey_percentile(output, 50),
        p95_ms=_hey_percentile(output, 95),
        p99_ms=_hey_percentile(output, 99),
        errors=sum(failures.values()) + sum(n for s, n in statuses.items() if s != 200),
        statuses=statuses,
        failures=failures,
    )


def _hey_percentile(output: str, percent: int) -> float:
    # hey leaves out a percentile it cannot place (e.g. p99 of fewer than 100 answers).
    found = re.search(rf"^\s*{percent}% in ([\d.]+) secs", output, re.MULTILINE)
    return float(found.group(1)) * 1000 if found else math.nan


def mark(ok: bool, text: str) -> str:
    """Return a target's line of a report: PASS or MISS, then what was measured against what."""
    return f"{'PASS' if ok else 'MISS'}  {text}"

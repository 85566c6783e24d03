"""`make bench`: load PriceHub's read path with wrk and hey, beside a bare WSGI reference.

Starts `make run`'s stack (deploy.run, DEBUG off, 50 simulated assets) for the run and stops it
after; refuses when something already answers on 127.0.0.1:8080. Prints the results table, the
hot asset's freshness, the web workers' memory and the targets, and writes the table and a
latency plot under bench/results/; then runs the accuracy scenarios on the same stack
(bench/accuracy.py) and, unless BENCH_SCALE_ASSETS=0, the scale scenario.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import psutil
import requests

from bench import accuracy, gaps, reference, report, scale, stack, streams, tools
from bench.plot import latency_plot
from deploy.run import FRONT_PORT, WEB_PORT
from deploy.services import FRONT_LIMITS

RESULTS = Path(__file__).resolve().parent / "results"
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
HEY_SECONDS = max(SECONDS, 20.0)
WARMUP_SECONDS = 2.0
ASSETS = 50
CLIENTS = 1000  # the original system's load: 1000 clients each asking once a second
HOT_SYMBOL = "BTCUSDT"
HOT = f"/prices/{HOT_SYMBOL}"
HISTORY_PAGE = 100  # points a history page of the bench asks for
# The reference and the hot GET alternate, so that both meet the machine's same moments; each
# is its median round. Five: the reference now and then falls to a third of its rate for a
# round, and the median of three absorbed one such round but not two.
ROUNDS = 5


@dataclass(frozen=True)
class Scenario:
    key: str
    name: str
    path: str
    connections: int
    tool: str = "wrk"


def scenarios(symbols: list[str]) -> list[Scenario]:
    """Return the scenarios after the reference, in the order they run."""
    batch, history = f"/prices?assets={','.join(symbols)}", f"{HOT}/history?limit={HISTORY_PAGE}"
    clients = f"{CLIENTS} clients x 1 req/s"
    found = [
        Scenario(report.HOT_KEY, f"GET {HOT}, 64 conn", HOT, 64),
        Scenario(report.CLIENTS_KEY, f"GET {HOT}, {clients} (wrk)", HOT, CLIENTS, "wrk-paced"),
        Scenario("clients in step", f"GET {HOT}, {clients} in step (hey)", HOT, CLIENTS, "hey"),
        Scenario("batch", f"GET /prices?assets= ({len(symbols)}), 16 conn", batch, 16),
        Scenario("history", f"GET {history}, 16 conn", history, 16),
    ]
    for interval in ("1m", "5m", "1h", "1d"):
        path = f"{HOT}/candles?interval={interval}"
        found.append(Scenario(f"candles {interval}", f"GET {path}, 16 conn", path, 16))
    return found


def main() -> int:
    _raise_open_files_limit()
    started = dt.datetime.now(dt.UTC)
    # Read once, before the run writes its results into the tree (read after, they made every
    # clean checkout's run say "with uncommitted changes").
    commit = _commit()
    try:
        # Every subscriber comes from one address: the front takes them all.
        limits = {
            f"FRONT_{name}": str(max(limit, streams.SUBSCRIBERS))
            for name, limit in FRONT_LIMITS.items()
        }
        with stack.running(assets=ASSETS, **limits) as process:
            _progress("waiting for the stack and a price for every asset ...")
            symbols = stack.wait_until_priced(process)
            _progress(f"{streams.SUBSCRIBERS} subscribers to the stream of BTCUSDT, kept on ...")
            with streams.subscribed() as streamed:
                run = measure(process, symbols)
                _progress("measuring BTCUSDT's refresh gaps, fault-free and with a slow venue ...")
                refresh_gaps = gaps.gaps()
                _progress(f"the stream alone for {streams.SECONDS:g} s ...")
                streamed.quiet_window()
            _progress("the accuracy scenarios (manage.py accuracy, about 20 minutes) ...")
            machine = f"{os.cpu_count()} cores ({_cpu_model()})"
            accuracy.run(started=started, commit=commit, machine=machine)
        publish(
            run,
            started=started,
            commit=commit,
            assets=len(symbols),
            refresh_gaps=refresh_gaps,
            streamed=streamed,
        )
        if scale.ASSETS:
            _progress(f"the scale scenario: a stack with {scale.ASSETS} assets ...")
            publish_scale(scale.run(), started=started, commit=commit)
    except (stack.StackError, tools.ToolError, RuntimeError, requests.RequestException) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    return 0


def measure(process: subprocess.Popen, symbols: list[str]) -> report.Run:
    """Run the reference and every scenario; read the web workers' RSS before and after."""
    answer = requests.get(stack.BASE + HOT, timeout=5)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {HOT} answered {answer.status_code}: {answer.text[:200]}")
    _progress(f"{HOT_SYMBOL}'s history: the points of a stack that has run for hours ...")
    stack.seed_history(process, HOT_SYMBOL, HISTORY_PAGE)
    todo = []
    for scenario in scenarios(symbols):  # one request each: lazily built clients are built
        try:
            first = requests.get(stack.BASE + scenario.path, timeout=10)
        except requests.RequestException as exc:
            raise RuntimeError(f"GET {scenario.path}: {exc}") from exc
        body = first.json() if first.ok else {}
        todo.append(replace(scenario, name=report.sized(scenario.name, body)))
    rss_start = stack.web_workers_rss(process)
    content_type = answer.headers["Content-Type"]
    ref = Scenario("reference", "reference: bare WSGI, same bytes, 64 conn", HOT, 64)
    hot = todo[0]
    rounds: list[tuple[report.Row, report.Row]] = []
    ages: list[float | None] = []
    # The CPU each request costs the servers that answer it, read around each round.
    pricehub = {"front": stack.listening(FRONT_PORT), "API's server": stack.listening(WEB_PORT)}
    with reference.serving(body=answer.content, content_type=content_type) as url:
        yardstick = {"reference": stack.listening(int(url.rsplit(":", 1)[1]))}
        _warm_up(ref, url)
        _warm_up(hot, stack.BASE)
        for _ in range(ROUNDS):
            reference_round = _measured(ref, url, yardstick)
            with stack.sampling_ages(stack.BASE + HOT) as sampled:
                rounds.append((reference_round, _measured(hot, stack.BASE, pricehub)))
            ages += sampled
    rows = [
        report.median_round([pair[0] for pair in rounds]),
        report.median_round([pair[1] for pair in rounds]),
    ]
    rows.extend(_run(scenario, stack.BASE) for scenario in todo[1:])
    return report.Run(rows, ages, rss_start, stack.web_workers_rss(process), rounds)


def _run(scenario: Scenario, base: str) -> report.Row:
    _warm_up(scenario, base)
    return _measured(scenario, base)


def _warm_up(scenario: Scenario, base: str) -> None:
    url, count = base + scenario.path, scenario.connections
    if scenario.tool == "hey":
        tools.hey(url, clients=count, rate=1, seconds=WARMUP_SECONDS)
    else:
        tools.wrk(url, connections=count, seconds=WARMUP_SECONDS, think_ms=_think(scenario))


def _think(scenario: Scenario) -> int:
    return 1000 if scenario.tool == "wrk-paced" else 0


def _measured(
    scenario: Scenario, base: str, servers: dict[str, list[psutil.Process]] | None = None
) -> report.Row:
    """Run the scenario; with servers, note the CPU microseconds each of them spent a request."""
    url, count = base + scenario.path, scenario.connections
    servers = servers or {}
    before = {name: stack.cpu_seconds(processes) for name, processes in servers.items()}
    if scenario.tool == "hey":
        result = tools.hey(url, clients=count, rate=1, seconds=HEY_SECONDS)
    else:
        result = tools.wrk(url, connections=count, seconds=SECONDS, think_ms=_think(scenario))
    cpu = {
        name: (stack.cpu_seconds(processes) - before[name]) / result.requests * 1e6
        for name, processes in servers.items()
        if result.requests
    }
    _progress(f"{scenario.name}: {result.rps:.0f} req/s, {result.errors} errors")
    return report.Row(scenario.key, scenario.name, result, cpu)


def publish(
    run: report.Run,
    *,
    started: dt.datetime,
    commit: str,
    assets: int,
    refresh_gaps: list[gaps.Gaps],
    streamed: streams.Streamed,
) -> None:
    """Print the results and write them to bench/results/ (latest.md, latency.png)."""
    cores = os.cpu_count()
    header = (
        f"PriceHub bench, {started:%Y-%m-%d %H:%M} UTC, commit {commit}, {assets} assets: "
        f"{cores} cores shared by the load tools and the whole stack, so every figure is a floor."
    )
    method = (
        f"{SECONDS:g} s per scenario (hey {HEY_SECONDS:g} s), each after {WARMUP_SECONDS:g} s "
        f"of warm-up; the reference and the hot GET alternate {ROUNDS} times, each row its "
        "median round. req/s counts answers of any status; errors are failed requests and answers "
        "outside 2xx/3xx (hey: other than 200), never retried."
    )
    lines = [report.rounds_line(run), report.cpu_line(run), *report.error_lines(run)]
    lines.append(report.freshness_line(run.ages))
    lines.append(report.rss_line(run))
    lines += [*(gap.line() for gap in refresh_gaps), streamed.line()]
    marks = [tools.mark(ok, text) for ok, text in report.checks(run)]
    marks += [*gaps.gap_marks(refresh_gaps), *streamed.marks()]
    print(f"\n{header}\n{method}\n\n{report.text_table(run)}\n")
    print("\n".join([*lines, "", *marks]))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(
        f"# PriceHub bench\n\n- date: {started:%Y-%m-%d %H:%M} UTC\n- commit: {commit}\n"
        f"- machine: {cores} cores ({_cpu_model()}), shared by the load tools and the stack\n"
        f"- assets: {assets}\n\n{method}\n\n{report.markdown_table(run)}\n\n"
        + "".join(f"- {line}\n" for line in lines)
        + "\nTargets:\n\n"
        + "".join(f"- {mark}\n" for mark in marks)
    )
    title = f"PriceHub read latency, {started:%Y-%m-%d}, commit {commit}, {cores} cores"
    latency_plot(run, RESULTS / "latency.png", title=title)
    print(f"\nWrote {RESULTS / 'latest.md'} and {RESULTS / 'latency.png'}")


def publish_scale(result: scale.Scale, *, started: dt.datetime, commit: str) -> None:
    """Print the scale scenario's figures and write them to bench/results/scale.md."""
    lines = result.lines()
    print("\n" + "\n".join(lines))
    (RESULTS / "scale.md").write_text(
        f"# PriceHub bench: scale\n\n- date: {started:%Y-%m-%d %H:%M} UTC\n"
        f"- commit: {commit}\n- machine: {os.cpu_count()} cores ({_cpu_model()})\n\n"
        + "".join(
            f"{line}\n" if not line or line.startswith("-") else f"- {line}\n" for line in lines
        )
    )
    print(f"\nWrote {RESULTS / 'scale.md'}")


def _commit() -> str:
    head = _git("rev-parse", "--short", "HEAD")
    if head.returncode != 0:
        return "unknown"
    dirty = _git("diff", "--quiet", "HEAD").returncode != 0
    return head.stdout.strip() + (" with uncommitted changes" if dirty else "")


def _git(*args: str) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parent.parent
    command = ["git", "-C", str(root), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def _raise_open_files_limit() -> None:
    # 1000 clients need 1000 sockets in hey and as many in the web server, both our children.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else hard
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    stack.exit_on_sigterm()
    sys.exit(main())

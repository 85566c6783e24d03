"""deploy/keep.py: a process of `make run` that dies is started again; a signal stops it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from deploy.services import ROOT

KEEP = ROOT / "deploy" / "keep.py"


def test_it_starts_a_dead_command_again_after_a_pause_and_stops_on_a_signal(tmp_path: Path):
    starts = tmp_path / "starts"
    command = f"echo started >> {starts}; exit 3"
    keeper = subprocess.Popen([sys.executable, KEEP, command], stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)  # starts at 0 s, 1 s (after 1 s) and 3 s (after 2 s): two so far
    keeper.send_signal(signal.SIGTERM)
    _, err = keeper.communicate(timeout=5)
    assert starts.read_text().splitlines() == ["started", "started"]
    assert err.splitlines() == [
        f"keep: exited with 3, starting again in 1 s: {command}",
        f"keep: exited with 3, starting again in 2 s: {command}",
    ]


def test_a_signal_reaches_the_command_and_ends_the_keeper_with_it(tmp_path: Path):
    keeper = subprocess.Popen([sys.executable, KEEP, "exec sleep 30"])
    time.sleep(0.5)
    started = time.monotonic()
    keeper.send_signal(signal.SIGINT)
    assert keeper.wait(timeout=5) == 128 + signal.SIGINT
    assert time.monotonic() - started < 2

"""deploy/lower.py: a process of `make run` below the reads is so for the scheduler, its session
(autogroup) included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deploy import lower
from deploy.services import ROOT

LOWER = ROOT / "deploy" / "lower.py"
SHOW = (
    "import os; print(os.getpriority(os.PRIO_PROCESS, 0));"
    " print(open('/proc/self/autogroup').read())"
)


@pytest.mark.skipif(not lower.AUTOGROUP.exists(), reason="a kernel without autogroup")
def test_the_command_and_its_session_run_at_the_level():
    # A session of its own, as make run gives each process: the test's own stays as it is.
    shown = subprocess.run(
        [sys.executable, LOWER, "7", sys.executable, "-c", SHOW],
        capture_output=True, text=True, check=True, start_new_session=True,
    )  # fmt: skip
    nice, autogroup = shown.stdout.splitlines()[:2]
    assert nice == "7"
    assert autogroup.endswith(" nice 7")


def test_a_busy_kernel_is_asked_again(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(lower, "RETRY_SECONDS", 0)
    monkeypatch.setattr(lower.os, "setpriority", lambda *args: None)
    asked = []

    class Busy(type(tmp_path)):
        def write_text(self, text: str) -> int:  # type: ignore[override]
            asked.append(text)
            if len(asked) < 3:  # another process's change in the last 100 ms
                raise BlockingIOError
            return super().write_text(text)

    autogroup = Busy(tmp_path / "autogroup")
    lower.lower(5, autogroup)
    assert asked == ["5", "5", "5"]
    assert autogroup.read_text() == "5"


def test_a_kernel_without_autogroup_needs_only_the_nice(tmp_path: Path, monkeypatch):
    set_to = []
    monkeypatch.setattr(lower.os, "setpriority", lambda which, who, level: set_to.append(level))
    lower.lower(5, tmp_path / "missing")
    assert set_to == [5]


def test_a_usage_error_says_how():
    ran = subprocess.run([sys.executable, LOWER, "x", "true"], capture_output=True, text=True)
    assert ran.returncode == 1
    assert ran.stderr.strip() == "usage: python deploy/lower.py N COMMAND [ARG ...]"


def test_a_session_it_may_not_change_leaves_a_line_and_the_process_s_nice(
    tmp_path: Path, monkeypatch, capsys
):
    set_to = []
    monkeypatch.setattr(lower.os, "setpriority", lambda which, who, level: set_to.append(level))

    class Refused(type(tmp_path)):
        def write_text(self, text: str) -> int:  # type: ignore[override]
            raise PermissionError(1, "Operation not permitted")

    lower.lower(5, Refused(tmp_path / "autogroup"))
    assert set_to == [5]
    said = capsys.readouterr().err
    assert said.startswith("lower: the session's nice was left as it is:")

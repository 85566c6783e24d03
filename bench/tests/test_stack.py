"""bench/stack.py: a benchmark told to stop by SIGTERM stops the stack it started."""

from __future__ import annotations

import signal
import subprocess
import sys

from deploy.services import ROOT

# A stand-in for a benchmark's main: its `finally` is where the stack is stopped.
MAIN = """
import time
from bench.stack import exit_on_sigterm
exit_on_sigterm()
try:
    print("running", flush=True)
    time.sleep(60)
finally:
    print("stopped the stack", flush=True)
"""


def test_a_sigterm_exits_through_the_finally_blocks():
    bench = subprocess.Popen(
        [sys.executable, "-c", MAIN], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert bench.stdout is not None
    assert bench.stdout.readline() == "running\n"
    bench.send_signal(signal.SIGTERM)
    out, _ = bench.communicate(timeout=30)
    assert out == "stopped the stack\n"
    assert bench.returncode == 128 + signal.SIGTERM

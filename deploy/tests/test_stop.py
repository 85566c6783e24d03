"""How `make run` (deploy/run.py) stops its processes: a server that stops its own workers
(Granian) gets the SIGTERM alone, through its keeper, so none of its workers hears it first;
any other process's group gets it whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from deploy.services import ROOT

# A server in miniature: a parent that stops its worker itself (with SIGUSR1) when told to
# stop, and a worker, in the parent's process group, that writes down a SIGTERM it hears.
SERVER = """
import signal, subprocess, sys, time
name, folder = sys.argv[1], sys.argv[2]
worker = subprocess.Popen([sys.executable, "-c", '''
import pathlib, signal, sys, time
heard = pathlib.Path(sys.argv[1])
def term(*_):
    heard.write_text("SIGTERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
signal.signal(signal.SIGUSR1, lambda *_: sys.exit(0))
heard.with_suffix(".ready").touch()
time.sleep(60)
''', f"{folder}/{name}.heard"])
def stop(*_):
    time.sleep(0.5)  # a SIGTERM sent to the whole group reaches the worker meanwhile
    worker.send_signal(signal.SIGUSR1)
    worker.wait()
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
time.sleep(60)
"""

STACK = """
import shlex, sys
sys.path.insert(0, sys.argv[1])
from deploy.run import Stack, kept
server, folder = sys.argv[2], sys.argv[3]
stack = Stack()
for name in ("web", "stream", "worker"):
    stack.add_process(name, kept("exec " + shlex.join([sys.executable, server, name, folder])))
stack.loop()
"""


def test_granian_alone_hears_the_stop_and_other_groups_hear_it_whole(tmp_path: Path):
    server = tmp_path / "server.py"
    server.write_text(textwrap.dedent(SERVER))
    args = [sys.executable, "-c", STACK, str(ROOT), str(server), str(tmp_path)]
    stack = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        ready = [tmp_path / f"{name}.ready" for name in ("web", "stream", "worker")]
        deadline = time.monotonic() + 30
        while not all(path.exists() for path in ready) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(path.exists() for path in ready)
        os.killpg(stack.pid, signal.SIGINT)
        stack.wait(timeout=30)
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)
    heard = {path.stem for path in tmp_path.glob("*.heard")}
    assert heard == {"worker"}

"""How `make run` (deploy/run.py) stops its processes: each hears the SIGTERM once, through its
keeper, and a server that stops its own workers (Granian) tells them itself: none of them hears
it first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from deploy.services import ROOT

# A server in miniature: a parent that writes down each SIGTERM it hears and stops its worker
# itself (with SIGUSR1), and a worker, in the parent's process group, that writes down a SIGTERM
# it hears.
SERVER = """
import pathlib, signal, subprocess, sys, time
name, folder = sys.argv[1], sys.argv[2]
told = pathlib.Path(f"{folder}/{name}.told")
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
    with told.open("a") as out:
        out.write("SIGTERM\\n")
    time.sleep(0.5)  # a SIGTERM sent to the group too would reach both meanwhile
    worker.send_signal(signal.SIGUSR1)
    worker.wait()
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
time.sleep(60)
"""

NAMES = ("web", "stream", "worker", "beat")
STACK = """
import shlex, sys
sys.path.insert(0, sys.argv[1])
from deploy.run import Stack, kept
server, folder, *names = sys.argv[2:]
stack = Stack()
for name in names:
    stack.add_process(name, kept(shlex.join([sys.executable, server, name, folder])))
stack.loop()
"""


def test_each_process_hears_the_stop_once_and_a_servers_workers_from_it_alone(tmp_path: Path):
    server = tmp_path / "server.py"
    server.write_text(textwrap.dedent(SERVER))
    args = [sys.executable, "-c", STACK, str(ROOT), str(server), str(tmp_path), *NAMES]
    stack = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        ready = [tmp_path / f"{name}.ready" for name in NAMES]
        deadline = time.monotonic() + 30
        while not all(path.exists() for path in ready) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(path.exists() for path in ready)
        os.killpg(stack.pid, signal.SIGINT)
        stack.wait(timeout=30)
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)
    told = {name: (tmp_path / f"{name}.told").read_text().count("SIGTERM") for name in NAMES}
    assert told == dict.fromkeys(NAMES, 1)
    assert list(tmp_path.glob("*.heard")) == []

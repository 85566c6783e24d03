"""`python deploy/keep.py COMMAND`: run the shell command COMMAND, and start it again whenever it
dies, after a pause that doubles from 1 s up to 30 s (back to 1 s once it ran a minute), with
a line on stderr each time; SIGINT or SIGTERM stops it with the command. `make run` keeps each
of its processes so, and one that crashes no longer takes the others down with it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from types import FrameType

FIRST_PAUSE = 1.0
LONGEST_PAUSE = 30.0
HEALTHY_SECONDS = 60.0


def main(command: str) -> int:
    child: subprocess.Popen[bytes] | None = None
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    pause = FIRST_PAUSE
    while True:
        started = time.monotonic()
        child = subprocess.Popen(["/bin/sh", "-c", command])  # noqa: S603
        code = child.wait()
        if code < 0:
            code = 128 - code  # killed by a signal: as a shell reports it
        if stopping:
            return code
        if time.monotonic() - started >= HEALTHY_SECONDS:
            pause = FIRST_PAUSE
        print(
            f"keep: exited with {code}, starting again in {pause:g} s: {command}",
            file=sys.stderr,
            flush=True,
        )
        ends = time.monotonic() + pause
        while not stopping and time.monotonic() < ends:
            time.sleep(0.05)
        if stopping:
            return code
        pause = min(pause * 2, LONGEST_PAUSE)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python deploy/keep.py COMMAND")
    sys.exit(main(sys.argv[1]))

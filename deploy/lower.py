"""`python deploy/lower.py N COMMAND [ARG ...]`: run COMMAND below the reads, at CPU priority
nice N, as `nice -n N` does, and its whole session with it.

Where the kernel groups sessions (autogroup: Linux's default on most distributions, and on
the machines PriceHub is measured on), the scheduler shares the CPUs between sessions first,
and a thread's nice counts only within its own session. `make run` starts each process in a
session of its own, so `nice` alone never puts one process below another: the session's nice
(/proc/self/autogroup) does. Any process may raise it, but the kernel takes one change in
100 ms from all of them: a busy answer is tried again.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

AUTOGROUP = Path("/proc/self/autogroup")
RETRY_SECONDS = 0.1
TRIES = 50


def lower(level: int, autogroup: Path = AUTOGROUP) -> None:
    """Put this process, and its session where sessions are grouped, at nice level."""
    os.setpriority(os.PRIO_PROCESS, 0, level)
    for _ in range(TRIES):
        try:
            autogroup.write_text(str(level))
            return
        except FileNotFoundError:  # a kernel without autogroup: the process's nice is enough
            return
        except BlockingIOError:  # another process's change in the last 100 ms
            time.sleep(RETRY_SECONDS)
        except OSError as exc:  # not this process's to change here: its own nice must do
            print(f"lower: the session's nice was left as it is: {exc}", file=sys.stderr)
            return
    print(f"lower: the session's nice could not be set: {autogroup}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 3 or not sys.argv[1].isdigit():
        sys.exit("usage: python deploy/lower.py N COMMAND [ARG ...]")
    lower(int(sys.argv[1]))
    os.execvp(sys.argv[2], sys.argv[2:])  # noqa: S606

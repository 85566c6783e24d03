"""The session's services (conftest.py) are the ones it started: a free port that another
process binds first is given up for a new one."""

from __future__ import annotations

import socket
import sys

import conftest
from deploy.services import free_port, port_answers


def test_a_port_another_process_took_first_is_given_up_for_a_new_one(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = iter([taken.getsockname()[1], free_port()])
        monkeypatch.setattr(conftest, "free_port", lambda: next(ports))

        def server(port: int) -> list[str]:
            return [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]

        with conftest._serving(server) as port:
            assert port != taken.getsockname()[1]
            assert port_answers(port)
        assert not port_answers(port)  # stopped after

"""A test's own servers (aggregation/tests/stack.py `serving`, which starts the session's
services too) are the ones it started: a free port that another process binds first is given
up for a new one."""

from __future__ import annotations

import socket
import sys

import pytest

from aggregation.tests import stack
from deploy.services import free_port, port_answers


def server(port: int) -> list[str]:
    return [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]


def test_a_port_another_process_took_first_is_given_up_for_a_new_one(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = iter([taken.getsockname()[1], free_port()])
        monkeypatch.setattr(stack, "free_port", lambda: next(ports))
        with stack.serving(server) as served:
            assert served.port != taken.getsockname()[1]
            assert port_answers(served.port)
        assert not port_answers(served.port)  # stopped after


def test_a_server_that_never_finds_a_port_is_a_clear_error(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr(stack, "free_port", lambda: taken.getsockname()[1])
        with (
            pytest.raises(
                RuntimeError, match=f"ended before it listened, {stack.PORT_TRIES} times"
            ),
            stack.serving(server),
        ):
            pass  # reached only had it served: pytest.raises then fails the test

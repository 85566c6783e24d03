"""deploy/services.py: how a process of `make run` tells that what it needs answers."""

from __future__ import annotations

from deploy import services
from deploy.services import dynamodb_answers, free_port, http_answers, redis_answers


def test_each_service_answers_a_real_request_and_a_closed_port_does_not(
    redis_url, dynamodb_endpoint, venues
):
    closed = f"127.0.0.1:{free_port()}"
    assert redis_answers(redis_url)
    assert not redis_answers(f"redis://{closed}/0")
    assert dynamodb_answers(dynamodb_endpoint)
    assert not dynamodb_answers(f"http://{closed}")
    assert http_answers(f"{venues['binance']}/")
    assert not http_answers(f"http://{closed}/")


def test_a_wait_that_gives_up_exits_with_one_line_naming_what_did_not_answer(monkeypatch, capsys):
    monkeypatch.setattr(services, "WAIT_SECONDS", 0.2)
    url = f"http://127.0.0.1:{free_port()}/healthz"
    assert services.main(["wait", f"http={url}"]) == 1
    assert capsys.readouterr().err == f"deploy.services: {url} does not answer after 0.2 s\n"

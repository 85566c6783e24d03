"""bench/load.py: a history or candles row says how long the history it read was."""

from __future__ import annotations

import requests

from bench.load import Scenario, _sized


def answer(body: bytes, status: int = 200) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = status, body
    return response


def test_a_history_or_candles_row_is_named_with_what_its_answer_held():
    history = Scenario("history", "GET /prices/BTCUSDT/history?limit=100, 16 conn", "/h", 16)
    candles = Scenario("candles 1m", "GET /prices/BTCUSDT/candles?interval=1m, 16 conn", "/c", 16)
    assert _sized(history, answer(b'{"points":[{},{}],"next_cursor":null}')).name == (
        "GET /prices/BTCUSDT/history?limit=100, 16 conn, 2 points"
    )
    assert _sized(candles, answer(b'{"candles":[]}')).name.endswith(", 0 candles")


def test_other_rows_keep_their_names():
    hot = Scenario("hot", "GET /prices/BTCUSDT, 64 conn", "/prices/BTCUSDT", 64)
    assert _sized(hot, answer(b'{"asset":"BTCUSDT","sources":[]}')) == hot
    assert _sized(hot, answer(b'{"error":{"code":"x"}}', 503)) == hot

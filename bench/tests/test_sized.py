"""bench/report.py: a history or candles row says how long the history it read was."""

from __future__ import annotations

from bench.report import sized


def test_a_history_or_candles_row_is_named_with_what_its_answer_held():
    name = "GET /prices/BTCUSDT/history?limit=100, 16 conn"
    assert sized(name, {"points": [{}, {}], "next_cursor": None}) == f"{name}, 2 points"
    assert sized("candles", {"candles": []}) == "candles, 0 candles"


def test_other_rows_keep_their_names():
    assert sized("hot", {"asset": "BTCUSDT", "sources": []}) == "hot"
    assert sized("hot", {}) == "hot"
    assert sized("batch", [{"points": []}]) == "batch"

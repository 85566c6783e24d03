"""`make chaos`'s judgements: a wrong answer, and the table it prints."""

from __future__ import annotations

from bench.chaos_watch import Row, Watch, table


def test_a_price_flagged_fresh_past_its_tiers_stale_threshold_is_wrong():
    watch = Watch({"BTCUSDT": "hot", "SOLUSDT": "cold"}, "redis://127.0.0.1:9/0")
    assert watch._wrong({"tier": "hot", "stale": False, "age_seconds": 5.5})
    assert not watch._wrong({"tier": "hot", "stale": True, "age_seconds": 50})
    assert not watch._wrong({"tier": "hot", "stale": False, "age_seconds": 4.9})
    assert not watch._wrong({"tier": "cold", "stale": False, "age_seconds": 179})
    assert watch._wrong({"tier": "cold", "stale": False, "age_seconds": 181})


def test_every_asset_must_be_fresh_and_newer_than_the_fault_to_have_recovered():
    watch = Watch({"BTCUSDT": "hot", "SOLUSDT": "cold"}, "redis://127.0.0.1:9/0")
    fresh = {"stale": False, "aggregated_at": "2026-11-26T01:00:02Z"}
    watch.latest = {"BTCUSDT": fresh}
    assert not watch.all_fresh_since(1795654801000)  # SOLUSDT not seen yet
    watch.latest["SOLUSDT"] = fresh | {"stale": True}
    assert not watch.all_fresh_since(1795654801000)
    watch.latest["SOLUSDT"] = fresh
    assert watch.all_fresh_since(1795654801000)
    assert not watch.all_fresh_since(1795654802000)


def test_the_table_has_a_row_per_scenario_under_its_header():
    rows = [Row("one venue down", 10, 0, 0, 5, 5, 0, 0, 1.25), Row("soak", note="RSS 1 -> 1 MB")]
    lines = table(rows).splitlines()
    assert lines[0].startswith("| scenario | requests | 5xx | wrong |")
    assert lines[2] == "| one venue down | 10 | 0 | 0 | 5 | 5 | 0 | 0 | 1.2 |  |"
    assert lines[3] == "| soak | 0 | 0 | 0 | 0 | 0 | 0 | 0 | - | RSS 1 -> 1 MB |"

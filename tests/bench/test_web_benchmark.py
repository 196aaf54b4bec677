"""bench/web.py at a small size: it generates and reviews a month (each case's timeline kept), signs
sessions in, works the queue and case pages under both loads, and prints its table and figures.
Latencies are printed by the benchmark, never asserted here; a vault it cannot open is one line."""

from __future__ import annotations

import json

from tests.bench.test_policy_benchmark import _module


def test_the_web_benchmark_runs_both_loads_and_prints_its_figures(capsys):
    web = _module("web")
    assert web.main(["--events", "20000", "--sessions", "2", "--rounds", "2", "--think", "0.05"]) == 0
    out = capsys.readouterr().out
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["cases"] > 0 and figures["review_s"] > 0
    working, saturated = figures["web"]
    assert (working["think_s"], saturated["think_s"]) == (0.05, 0.0)
    for load in (working, saturated, figures["direct"]):
        assert load["queue"]["n"] == load["case"]["n"] == 4 and load["requests"] == 8
    assert "working (think 0.05 s)" in out and "saturated (no pause)" in out and "target p95 <= 300 ms" in out


def test_a_home_that_is_not_a_vault_is_one_line(tmp_path, capsys):
    web = _module("web")
    assert web.main(["--home", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bench/web.py: ") and err.count("\n") == 1

"""bench/report.py at a small size, with each engine on the same vault: the month's report is made and
written, and the partitioned engine's review (a rerun, which adds nothing) gives the local engine's
findings. Timings are printed by the benchmark, never asserted here."""

from __future__ import annotations

import json

from tests.bench.test_policy_benchmark import _module


def _figures(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_the_report_benchmark_runs_with_either_engine_and_both_find_the_same(tmp_path, capsys):
    bench = _module("report")
    assert bench.main(["--events", "20000", "--keep", str(tmp_path)]) == 0
    local = _figures(capsys.readouterr().out)
    local_findings = json.loads((tmp_path / "report" / "findings.json").read_text(encoding="utf-8"))
    assert bench.main(["--home", str(tmp_path / "home"), "--keep", str(tmp_path), "--engine", "partitioned",
                       "--month-after"]) == 0
    out = capsys.readouterr().out
    partitioned = _figures(out)
    assert (local["engine"], partitioned["engine"]) == ("local", "partitioned")
    assert local["findings"] == partitioned["findings"] > 0
    assert local["accesses"] == partitioned["accesses"] > 0
    assert json.loads((tmp_path / "report" / "findings.json").read_text(encoding="utf-8")) == local_findings
    assert 0 < partitioned["rules_s"] <= partitioned["policy_s"]
    assert 0 <= partitioned["verify_wait_s"] <= partitioned["build_s"]
    assert "of which waiting for the log's verification to end" in out
    assert "of which the rules (partitioned engine)" in out and "target <= 30 s" in out
    strictly = partitioned["policy_s"] - partitioned["rules_s"] + partitioned["report_s"]
    assert abs(partitioned["after_rules_s"] - strictly) < 1e-3 and "from the end of the rules to the report's files" in out
    # the month after's report takes this month from its review (the bench asserts the same figures as
    # judging it again) and says what that saved
    assert partitioned["previous_kept_s"] >= 0 and partitioned["previous_judged_s"] > 0
    assert "this month from its kept review" in out and "judged again (baseline)" in out
    for name in ("report.html", "report.pdf", "findings.csv", "findings.json"):
        assert (tmp_path / "report" / name).stat().st_size > 0


def test_the_target_is_the_issues_for_the_months_size():
    bench = _module("report")
    assert (bench.target_s(10_000_000), bench.target_s(60_000_000)) == (30.0, 120.0)

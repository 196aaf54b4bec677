"""`auditor simulate` and `auditor evaluate` through the command line."""

from __future__ import annotations

import pytest

SIZE = ("--events", "5000", "--workforce", "100", "--patients", "700")


def one_line(code: int, err: str) -> str:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("auditor: "), err
    return lines[0]


def test_simulate_ingest_evaluate(auditor, tmp_path):
    out = tmp_path / "hospital"
    code, text, err = auditor("simulate", "--out", str(out), "--seed", "4", *SIZE)
    assert code == 0, err
    assert "access_log.csv:" in text and "injected events" in text and f"auditor ingest {out}" in text
    assert (out / "labels.csv").is_file() and (out / "simulation.json").is_file()
    assert auditor("init")[0] == 0
    code, text, err = auditor("ingest", str(out), "--tz", "America/New_York")
    assert code == 0 and " 0 rejected" in text and "rejected " not in text.replace(" 0 rejected", ""), text
    code, text, err = auditor("evaluate", "--labels", str(out / "labels.csv"))
    assert code == 0, err
    lines = text.splitlines()
    assert lines[0].split() == ["rule", "labelled", "injected", "reported", "correct", "precision", "recall"]
    assert sum(1 for line in lines if line.split()[0].endswith("-access") or line.startswith(
        ("no-treatment", "after-hours", "excessive", "break-glass", "bulk", "repeated"))) == 15
    assert "explained" in text and "2026-11-01 to 2026-11-30 (America/New_York)" in text
    normal = next(line for line in lines if line.startswith("normal traffic: "))
    assert "% explained (care team " in normal and "department " in normal  # each explanation's share
    assert "targets" in lines[-1] and lines[-1].endswith(": met")
    triage = next(line for line in lines if line.startswith("triage: "))
    assert "review budget 1000: injected violations whose case is inside it 100.0%, of critical rules 100.0%" in triage
    assert "risk score ROC AUC " in triage
    site = tmp_path / "site"
    site.mkdir()
    (site / "cases.yaml").write_text("review_budget: 1\n")
    code, text, err = auditor("evaluate", "--labels", str(out / "labels.csv"), "--site-policies", str(site))
    assert code == 0, err
    assert "review budget 1: " in text and text.splitlines()[-1].endswith(": NOT met")  # one case holds far from 95%
    (site / "cases.yaml").write_text("review_budget: 0\n")
    assert "review_budget must be a whole number of cases" in one_line(*auditor(
        "evaluate", "--labels", str(out / "labels.csv"), "--site-policies", str(site))[::2])
    code, text, _ = auditor("evaluate", "--labels", str(out / "labels.csv"), "--from", "2026-11-02", "--to", "2026-11-20")
    assert code == 0 and "2026-11-02 to 2026-11-20" in text  # labels of other days are not expected
    assert text.splitlines()[-1].endswith(": met")


def test_simulate_refuses_a_used_directory_and_changes_nothing(auditor, tmp_path):
    out = tmp_path / "used"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert "exists and is not an empty directory" in one_line(*auditor("simulate", "--out", str(out))[::2])
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("args,message", [
    (("--month", "2026-13"), "is not a YYYY-MM month"),
    (("--tz", "Mars/Olympus"), "unknown time zone"),
    (("--events", "10"), "--events must be at least"),
    (("--events", "100000", "--workforce", "100"), "too many for 100 workforce members"),
    (("--seed", "-1"), "--seed must be 0 or more"),
    (("--synthea", "{tmp}/nowhere"), "is not a directory"),
])
def test_simulate_input_errors(auditor, tmp_path, args, message):
    out = tmp_path / "fresh"
    code, _, err = auditor("simulate", "--out", str(out), *(a.format(tmp=tmp_path) for a in args))
    assert message in one_line(code, err)
    assert not out.exists()


def test_evaluate_input_errors(auditor, tmp_path):
    assert auditor("init")[0] == 0
    assert "is not a labels file" in one_line(*auditor("evaluate", "--labels", str(tmp_path / "none.csv"))[::2])
    bad = tmp_path / "labels.csv"
    bad.write_text("event,what\n1,2\n")
    assert "missing column(s) event_id, rule, injected" in one_line(*auditor("evaluate", "--labels", str(bad))[::2])
    bad.write_text("event_id,rule,injected\n")
    assert "no readable simulation.json" in one_line(*auditor("evaluate", "--labels", str(bad))[::2])
    assert "give both --from and --to" in one_line(*auditor("evaluate", "--labels", str(bad), "--from",
                                                            "2026-11-01")[::2])
    assert "--to is before --from" in one_line(*auditor("evaluate", "--labels", str(bad), "--from", "2026-11-02",
                                                        "--to", "2026-11-01")[::2])
    assert "ingest the simulated directory first" in one_line(*auditor(
        "evaluate", "--labels", str(bad), "--from", "2026-11-01", "--to", "2026-11-30")[::2])

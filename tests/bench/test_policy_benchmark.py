"""bench/policy.py at a small size: the generated export loads without a rejected row, the log
verifies, and DuckDB's counts agree with the engine's for the three compared rules (the benchmark
exits 1 when they differ). Timings are printed by the benchmark, never asserted here."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("duckdb")
BENCH = Path(__file__).resolve().parents[2] / "bench"


def _module(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_the_export_is_deterministic_and_shaped_like_a_hospital_month(tmp_path):
    data = _module("policy_data")
    first = data.write_export(tmp_path / "a", 20_000, seed=5)
    data.write_export(tmp_path / "b", 20_000, seed=5)
    for name in ("workforce", "patients", "encounters", "care_team", "access_log"):
        assert (tmp_path / "a" / f"{name}.csv").read_bytes() == (tmp_path / "b" / f"{name}.csv").read_bytes()
    assert (first.events, first.workforce, first.patients) == (20_000, 60, 500)
    log = (tmp_path / "a" / "access_log.csv").read_text(encoding="utf-8").splitlines()
    assert len(log) == 20_001 and log[1].split(",")[1].startswith("2026-11-01T")


def test_a_month_made_in_parts_is_merged_in_time_order_and_numbered_as_one(tmp_path, monkeypatch):
    data = _module("policy_data")
    monkeypatch.setattr(data, "LOG_PART_EVENTS", 7_000)  # 20,000 events in three parts
    data.write_export(tmp_path, 20_000, seed=5)
    lines = (tmp_path / "access_log.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("event_id,timestamp,user_id,mrn,") and len(lines) == 20_001
    rows = [line.split(",") for line in lines[1:]]
    assert [r[0] for r in rows] == [f"A{n:09d}" for n in range(1, 20_001)]
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))  == []  # the parts are gone


def test_by_role_only_judges_by_role_and_prints_the_scale_targets(tmp_path, capsys):
    bench = _module("policy")
    assert bench.main(["--events", "20000", "--keep", str(tmp_path), "--by-role-only"]) == 0
    out, err = capsys.readouterr()
    figures = json.loads(out.strip().splitlines()[-1])
    # the ingest's figures are printed as soon as they are known (a pack that fails later loses none)
    assert "ingested 20,000 access rows in" in err and "verified " in err and "written to disk in" in err
    assert figures["sync_s"] >= 0 and "then written to disk (os.sync)" in out
    assert "pack_s" not in figures and figures["partitioned"]["partitions"] >= 2  # no whole month was run
    assert "target <= 240 s" in out and "target <= 12 GB" in out and "target at this scale >= 150,000" in out
    assert sum(figures["partitioned"]["hits"].values()) > 0


def test_a_new_month_too_large_to_hold_whole_is_judged_by_role_alone(capsys):
    """`python bench/policy.py --events 60000000`, as issue 19 writes it, must not start a whole-month
    pack that needs about 28 GB: above 10 million new events it is --by-role-only, unless a comparison
    with the whole month is asked for."""
    bench = _module("policy")
    assert bench.parse(["--events", "60000000"]).by_role_only
    assert "judged by role partitions only" in capsys.readouterr().err
    assert not bench.parse(["--events", "10000000"]).by_role_only
    assert not bench.parse(["--events", "60000000", "--partitioned"]).by_role_only
    assert not bench.parse(["--events", "60000000", "--database-url", "postgresql+psycopg://x/y"]).by_role_only
    assert not bench.parse(["--events", "60000000", "--home", "somewhere"]).by_role_only  # measures what it is given


def test_the_benchmark_runs_and_duckdb_agrees(tmp_path, capsys):
    bench = _module("policy")
    assert bench.main(["--events", "30000", "--keep", str(tmp_path), "--partitioned"]) == 0
    out = capsys.readouterr().out
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["partitioned"]["same_hits"] and figures["partitioned"]["hits"] == figures["hits"]
    assert figures["partitioned"]["partitions"] >= 2 and "partitions, the largest" in out  # its 60 staff: no group of 5
    assert "hits by role identical to the whole month's" in out and "by role / whole" in out
    assert figures["counts_agree"] and figures["rows"] == figures["loaded"] == 30_000 and figures["rejected"] == 0
    assert figures["verify_vs_sha256"] == pytest.approx(figures["verify_per_s"] / figures["sha256_links_per_s"], rel=0.01)
    assert figures["verify_per_s"] == pytest.approx(figures["log_size"] / figures["verify_s"], rel=0.01)
    ours = figures["counts"]["auditor"]
    assert all(ours[rule] > 0 for rule in bench.THREE), ours  # each compared rule has something to find
    assert figures["hits"]["no-treatment-relationship"] <= ours["no-treatment-relationship"]  # precedence


@pytest.mark.postgres
def test_the_benchmark_runs_on_postgresql_beside_sqlite_with_the_same_hits(tmp_path, capsys, fresh_postgres_db):
    bench = _module("policy")
    assert bench.main(["--events", "20000", "--keep", str(tmp_path), "--database-url", fresh_postgres_db()]) == 0
    out = capsys.readouterr().out
    figures = json.loads(out.strip().splitlines()[-1])
    pg = figures["postgresql"]
    assert pg["same_hits"] and pg["hits"] == figures["hits"] and sum(pg["hits"].values()) > 0
    assert pg["hits_sha256"] == figures["hits_sha256"]  # event by event, not only the counts
    assert pg["rows"] == pg["loaded"] == 20_000 and pg["log_size"] == figures["log_size"]
    assert "PostgreSQL / SQLite" in out and "full-pack hits identical on both, event by event" in out
    assert (tmp_path / "home-postgresql").is_dir()

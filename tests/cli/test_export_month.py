"""`auditor export month` and `auditor export check` through the CLI: what they print, and one line
with exit 2 for every bad argument, with nothing written and nothing recorded."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from auditor.clock import FixedClock
from auditor.home import create_home
from tests.cli.test_outputs import one_line
from tests.conftest import FAST_SCRYPT
from tests.reporting.report_data import hospital_month

DECEMBER = FixedClock(datetime(2026, 12, 3, 15, 0, tzinfo=timezone.utc))


@pytest.fixture
def home(tmp_path, clock):
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    hospital_month(vault)  # the vault's own accesses of November (and one of October)
    vault.close()
    return tmp_path / "home"


def _exports(home) -> int:
    with sqlite3.connect(home / "records.db") as con:
        return con.execute("select count(*) from audit_events where action = 'export'").fetchone()[0]


def test_a_month_is_exported_and_checked(home, auditor, tmp_path):
    done = auditor("export", "month", "--month", "2026-11", "--parquet", tmp_path / "nov", user="officer",
                   clock=DECEMBER)
    assert done.code == 0, done.err
    first, second = done.out.splitlines()
    assert "of 2026-11-01 to 2026-11-30 and before it" in first and "root " in first
    key = second.rsplit("--public-key ", 1)[1]
    assert len(bytes.fromhex(key)) == 32 and _exports(home) == 1
    manifest = json.loads((tmp_path / "nov" / "manifest.json").read_text())
    assert manifest["exported_by"] == "officer" and manifest["events"]["count"] == int(first.split()[0]) > 0
    assert (tmp_path / "nov").stat().st_mode & 0o077 == 0
    assert all(p.stat().st_mode & 0o077 == 0 for p in (tmp_path / "nov").rglob("*.parquet"))
    checked = auditor("export", "check", tmp_path / "nov", "--public-key", key)
    assert checked.code == 0 and checked.out.startswith(f"OK: {manifest['events']['count']} audit events of 2026-11-01")


def test_a_month_without_events_is_an_export_too(tmp_path, auditor, clock):
    create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT).close()
    done = auditor("export", "month", "--month", "2026-09", "--parquet", tmp_path / "sep", user="officer",
                   clock=DECEMBER)
    assert done.code == 0 and done.out.startswith("0 audit events"), done.err
    assert auditor("export", "check", tmp_path / "sep").out.startswith("OK: 0 audit events")


@pytest.mark.parametrize("args, reason", [
    (["--month", "2026-13"], "--month '2026-13' is not YYYY-MM"),
    (["--month", "2027-01"], "--month 2027-01 has not begun"),
    (["--month", "Nov"], "is not YYYY-MM"),
])
def test_a_bad_month_is_one_line_and_writes_nothing(home, auditor, tmp_path, args, reason):
    result = auditor("export", "month", *args, "--parquet", tmp_path / "out", user="officer", clock=DECEMBER)
    assert reason in one_line(result)
    assert not (tmp_path / "out").exists() and _exports(home) == 0


def test_a_folder_that_is_not_empty_or_is_a_file_is_refused_before_anything_is_read(home, auditor, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    (tmp_path / "afile").write_text("mine")
    for target, reason in ((tmp_path / "busy", "exists and is not an empty folder"),
                           (tmp_path / "afile", "is a file")):
        result = auditor("export", "month", "--month", "2026-11", "--parquet", target, user="officer", clock=DECEMBER)
        assert reason in one_line(result)
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine" and _exports(home) == 0


def test_only_the_office_exports_a_month(home, auditor, tmp_path):
    result = auditor("export", "month", "--month", "2026-11", "--parquet", tmp_path / "out", user="admin",
                     clock=DECEMBER)
    assert "does not hold the role" in one_line(result)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("key, reason", [("zz", "--public-key must be hex"),
                                         ("ab" * 16, "--public-key must be 32 bytes")])
def test_check_refuses_a_key_that_is_not_one(home, auditor, tmp_path, key, reason):
    assert reason in one_line(auditor("export", "check", tmp_path, "--public-key", key))


def test_check_of_a_folder_that_is_no_export(home, auditor, tmp_path):
    (tmp_path / "x").mkdir()
    assert "no manifest.json (not a month's export)" in one_line(auditor("export", "check", tmp_path / "x"))


@pytest.mark.parametrize("args, reason", [
    (["--master", "local[2]"], "--master and --export-dir go with --engine spark"),
    (["--export-dir", "elsewhere"], "--master and --export-dir go with --engine spark"),
    (["--engine", "spark", "--export-dir", "busy"], "busy exists and is not an empty folder"),
    (["--engine", "hadoop"], "Invalid value for '--engine'"),
    (["--part-events", "5"], "--part-events goes with --engine partitioned or spark"),
    (["--engine", "partitioned", "--part-events", "0"], "Invalid value for '--part-events'"),
])
@pytest.mark.parametrize("command", [["findings", "--from", "2026-11-01", "--to", "2026-11-30"],
                                     ["report", "monthly", "--month", "2026-11", "--no-pdf"],
                                     ["evaluate", "--labels", "labels.csv", "--from", "2026-11-01", "--to", "2026-11-30"]])
def test_engine_options_are_checked_before_anything_runs(home, auditor, tmp_path, monkeypatch, args, reason, command):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    (tmp_path / "labels.csv").write_text("event_id,rule,injected,day\n")
    result = auditor(*command, *args, user="officer", clock=DECEMBER)
    assert reason in one_line(result)
    assert _exports(home) == 0
    with sqlite3.connect(home / "records.db") as con:
        assert con.execute("select count(*) from cases").fetchone() == (0,)


def test_without_pyspark_the_spark_engine_says_how_to_install_it(home, auditor, monkeypatch):
    """`.[spark]` is an optional extra: a machine without pyspark gets one line naming it, exit 2,
    before anything runs (importlib's lookup answers as on such a machine)."""
    import importlib.util
    import tomllib

    extras = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    assert any(need.startswith("pyspark") for need in extras["optional-dependencies"]["spark"])
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a))
    result = auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--engine", "spark", user="officer",
                     clock=DECEMBER)
    assert result.code == 2 and "pip install 'auditor[spark]'" in one_line(result)
    assert _exports(home) == 0


def test_evaluate_on_a_cluster_is_done_in_someones_name(home, auditor, tmp_path, monkeypatch):
    """The local engine reads no name and exports nothing, so evaluate needs no sign-in; sending the
    month to a cluster is an export, in the name of a privacy officer or an investigator signed in."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "labels.csv").write_text("event_id,rule,injected,day\n")
    days = ["--from", "2026-11-01", "--to", "2026-11-30"]
    assert auditor("--home", home, "evaluate", "--labels", "labels.csv", *days, clock=DECEMBER).code == 0
    refused = auditor("--home", home, "evaluate", "--labels", "labels.csv", *days, "--engine", "spark", clock=DECEMBER)
    assert "sign" in one_line(refused).lower()
    assert _exports(home) == 0

"""`auditor findings --engine spark` through the CLI, in a process of its own (one Spark driver a
process): on local[2], and on a two-worker standalone cluster started on loopback by the test. The
findings file is the local engine's, byte for byte, and the cases are the same."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pyspark = pytest.importorskip("pyspark")

from tests.cluster import standalone  # noqa: E402
from tests.signed_in import sign_in  # noqa: E402

NOVEMBER = ["--from", "2026-11-01", "--to", "2026-11-30"]


@pytest.fixture
def home(exported_november, tmp_path, monkeypatch):
    """A copy of the session's vault (the simulated November), officer signed in."""
    source = exported_november[0].parent / "home"
    home = tmp_path / "home"
    shutil.copytree(source, home)
    settings = json.loads((home / "home.json").read_text())
    for key in ("database_url", "keystore_url"):
        settings[key] = settings[key].replace(str(source), str(home))
    (home / "home.json").write_text(json.dumps(settings))
    (tmp_path / "run").mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("AUDITOR_PASSPHRASE", raising=False)
    sign_in(home, "officer")
    return home


def _findings(home: Path, out: Path, *engine: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "auditor", "--home", str(home), "findings", *NOVEMBER,
                           "--out", str(out), *engine], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_findings_on_spark_local_are_the_local_engines(home, tmp_path):
    local = _findings(home, tmp_path / "local.json")
    spark = _findings(home, tmp_path / "spark.json", "--engine", "spark", "--master", "local[2]")
    assert (tmp_path / "spark.json").read_bytes() == (tmp_path / "local.json").read_bytes()
    assert json.loads((tmp_path / "local.json").read_text())
    summary = local.stdout.strip().splitlines()[-1].split("; written to")[0]
    again = spark.stdout.strip().splitlines()[-1].split("; written to")[0]
    assert summary.split(" in ")[0] == again.split(" in ")[0]  # the same findings, muted ...
    assert "(0 opened, 0 finding(s) newly attached)" in again  # ... in the cases the local run opened
    assert summary.split("; ", 1)[1] == again.split("; ", 1)[1]  # the accesses judged, the share explained


def test_findings_on_a_two_worker_standalone_cluster(home, tmp_path):
    cluster = standalone.start(Path(pyspark.__file__).parent, tmp_path / "spark")
    try:
        assert len(cluster.workers()) == 2
        export = tmp_path / "export"
        _findings(home, tmp_path / "cluster.json", "--engine", "spark", "--master", cluster.master,
                  "--export-dir", str(export))
        listening = cluster.listening()
        apps = json.loads(__import__("urllib.request").request.urlopen(
            f"http://127.0.0.1:{cluster.ui}/json/", timeout=5).read())["completedapps"]
    finally:
        cluster.stop()
    assert listening and listening <= {"127.0.0.1", "[::ffff:127.0.0.1]"}, listening  # loopback only
    assert apps and apps[0]["name"] == "auditor rule pack"
    assert (export / "manifest.json").is_file()  # kept where the executors read it
    _findings(home, tmp_path / "local.json")
    assert (tmp_path / "cluster.json").read_bytes() == (tmp_path / "local.json").read_bytes()

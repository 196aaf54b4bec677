"""The CLI's commands on Spark (`--engine spark`), each in a process of its own (one Spark driver a
process): findings, the monthly report (this month's and the month before) and the evaluation, on
local[2], and the report on a two-worker standalone cluster started on loopback by the test. What
each writes is the local engine's, byte for byte, and the cases are the same. Each run starts a JVM
(half a minute or more), so each test holds what one run can show."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

pyspark = pytest.importorskip("pyspark")

# Minutes on a slow machine with the other xdist worker busy beside it (pyproject: -n 2): beyond the
# 300 s every test has, still a limit for one that hangs.
pytestmark = pytest.mark.timeout(900)

from tests.cluster import standalone  # noqa: E402
from tests.cluster.copies import copy_home  # noqa: E402
from tests.cluster.local_runs import NOVEMBER  # noqa: E402
from tests.cluster.reports import report_text  # noqa: E402
from tests.signed_in import sign_in  # noqa: E402

def _copy(source: Path, home: Path) -> Path:
    sign_in(copy_home(source, home), "officer")
    return home


@pytest.fixture
def source(exported_november, tmp_path, monkeypatch):
    """The session's vault (the simulated November): each test signs in to copies of it."""
    (tmp_path / "run").mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("AUDITOR_PASSPHRASE", raising=False)
    return exported_november[0].parent / "home"


@pytest.fixture
def home(source, tmp_path):
    return _copy(source, tmp_path / "home")


def _cases(home: Path) -> tuple[list, list]:
    """The cases the findings went into, and the timelines kept for them (each part's accesses and
    windows; not the case_findings row ids it names, which each vault draws for itself)."""
    with sqlite3.connect(home / "records.db") as db:
        cases = db.execute("select id, user_id, status from cases order by id").fetchall()
        parts = db.execute("select case_id, body from case_timelines").fetchall()
    kept = [(case, {k: v for k, v in json.loads(zlib.decompress(body)).items() if k != "findings"})
            for case, body in parts]
    return cases, sorted(kept, key=lambda part: (part[0], json.dumps(part[1], sort_keys=True)))


def _findings(home: Path, out: Path, *engine: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "auditor", "--home", str(home), "findings", *NOVEMBER,
                           "--out", str(out), *engine], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _said(stdout: str) -> str:
    """The run's last line, without where it wrote: findings, cases opened, accesses, share explained."""
    return stdout.strip().splitlines()[-1].split("; written to")[0]


def _run(home: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "auditor", "--home", str(home), *args], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


SPARK = ["--engine", "spark", "--master", "local[2]"]


def test_findings_on_spark_local_are_the_local_engines_and_a_suppression_mutes_the_same(source, home, local_engine,
                                                                                      tmp_path):
    """`auditor findings` on Spark (local[2]) and on this machine, each on a copy of the vault given the
    same suppression: the same findings file, byte for byte. Suppressions are applied by the vault to
    what the cluster sends back, as to the local engine's hits: the same findings muted, kept in the
    file marked so and left out of the cases. The same summary, the same cases and timelines, and the
    local engine run after the cluster's finds nothing new. (Without a suppression, the standalone
    cluster's report below: its findings file is the local engine's too.)"""
    top = json.loads(local_engine.findings().out.read_text())[0]
    elsewhere = _copy(source, tmp_path / "elsewhere")
    for vault in (home, elsewhere):
        _run(vault, "suppressions", "add", "--rule", top["rule"], "--user", top["user_id"], "--reason", "on the rota",
             "--expires", "2027-12-31")
    spark = _findings(home, tmp_path / "spark.json", *SPARK)
    local = _findings(elsewhere, tmp_path / "local.json")
    assert (tmp_path / "spark.json").read_bytes() == (tmp_path / "local.json").read_bytes()
    found = json.loads((tmp_path / "spark.json").read_text())
    muted = [f for f in found if f["muted"]]
    assert muted and all((f["rule"], f["user_id"], f["case"]) == (top["rule"], top["user_id"], None) for f in muted)
    assert any(f["case"] for f in found if not f["muted"])
    assert " muted" in spark.stdout and " opened, " in spark.stdout and _said(spark.stdout) == _said(local.stdout)
    cases, timelines = _cases(home)
    assert cases and timelines and (cases, timelines) == _cases(elsewhere)  # the same cases, the same timelines
    again = _findings(home, tmp_path / "again.json")  # the local engine after the cluster's run: nothing new
    assert "(0 opened, 0 finding(s) newly attached)" in again.stdout


def test_the_monthly_report_on_a_two_worker_standalone_cluster_is_the_local_engines(home, local_engine, tmp_path):
    """November's report on a standalone cluster: the nurses (4,576 events) in parts of about 1,500, the
    rest of their role in a second stage, so what the parts tell it crosses between the two workers'
    processes. The report's figures (activity, explanations, sensitive corners, quiet days) come from
    the partitions' counts, the findings from their hits: the same report and findings files as the
    local engine's."""
    cluster = standalone.start(Path(pyspark.__file__).parent, tmp_path / "spark")
    try:
        assert len(cluster.workers()) == 2
        export = tmp_path / "export"
        spark = _run(home, "report", "monthly", "--month", "2026-11", "--no-pdf", "--out", str(tmp_path / "report"),
                     "--engine", "spark", "--master", cluster.master, "--export-dir", str(export),
                     "--part-events", "1500")
        listening = cluster.listening()
        apps = json.loads(__import__("urllib.request").request.urlopen(
            f"http://127.0.0.1:{cluster.ui}/json/", timeout=5).read())["completedapps"]
    finally:
        cluster.stop()
    assert listening and listening <= {"127.0.0.1", "[::ffff:127.0.0.1]"}, listening  # loopback only
    assert apps and {app["name"] for app in apps} == {"auditor rule pack"}
    # each worker's executors ran tasks of the jobs (their logs in the worker's work folder say so)
    ran = [sum(log.read_text(errors="replace").count("Finished task") for app in apps
               for log in (tmp_path / "spark" / f"work-{i}").glob(f"{app['id']}/*/stderr")) for i in range(2)]
    assert all(n > 0 for n in ran), ran
    assert [p.name for p in export.iterdir()] == ["2026-11-01_2026-11-30"]  # October had no accesses
    assert (export / "2026-11-01_2026-11-30" / "manifest.json").is_file()  # kept where the executors read it
    local = local_engine.report()
    assert spark.stdout.splitlines()[0] == local.stdout.splitlines()[0]  # accesses, explained, findings, cases
    for name in ("findings.json", "findings.csv"):
        assert (tmp_path / "report" / name).read_bytes() == (local.out / name).read_bytes()
    assert report_text(tmp_path / "report") == report_text(local.out)


def test_the_month_before_is_judged_on_spark_too(source, home, tmp_path):
    """December's report on Spark: an empty month judged on the cluster, and November, the month
    before (its accesses and open findings compared in the summary), exported and judged there too."""
    done = _run(home, "report", "monthly", "--month", "2026-12", "--no-pdf", "--out", str(tmp_path / "dec"), *SPARK,
                "--export-dir", str(tmp_path / "exports"))
    assert done.stdout.startswith("December 2026: 0 patient accesses")
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == ["2026-11-01_2026-11-30",
                                                                       "2026-12-01_2026-12-31"]
    _run(_copy(source, tmp_path / "elsewhere"), "report", "monthly", "--month", "2026-12", "--no-pdf",
         "--out", str(tmp_path / "local"))
    assert report_text(tmp_path / "dec") == report_text(tmp_path / "local")
    assert '<th class="num">November 2026</th>' in report_text(tmp_path / "dec")  # the month before, beside it


def test_evaluate_on_spark_scores_as_the_local_engine(simulated_month, home, local_engine):
    spark = _run(home, "evaluate", "--labels", str(simulated_month.paths["labels.csv"]), *SPARK)
    local = local_engine.evaluate(simulated_month.paths["labels.csv"])
    assert "precision" in spark.stdout and "ROC AUC" in spark.stdout
    assert spark.stdout == local.stdout

"""bench/spark.py at a small size, in a process of its own (one Spark driver a process): the local
engine, the export and Spark on local[2] all run, and Spark's hits are the local engine's. Times are
printed by the benchmark, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyspark")

BENCH = Path(__file__).resolve().parents[2] / "bench" / "spark.py"


def test_the_spark_benchmark_runs_and_spark_finds_what_the_local_engine_finds(tmp_path):
    done = subprocess.run([sys.executable, str(BENCH), "--events", "20000", "--keep", str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["spark_local"]["identical"] and figures["spark_local"]["hits"] == figures["hits"] > 0
    assert figures["exported_events"] == figures["events"] and "x the local engine; hits identical" in done.stdout
    assert (tmp_path / "export" / "manifest.json").is_file()
    tasks = figures["spark_local"]
    assert 1 <= tasks["tasks"] and 0 < tasks["largest_task_events"] <= figures["events"] and tasks["worker_peak_gb"] > 0
    assert f"{tasks['tasks']} judging tasks, the largest {tasks['largest_task_events']:,} events" in done.stdout


def test_the_spark_benchmark_refuses_a_part_size_under_one():
    done = subprocess.run([sys.executable, str(BENCH), "--part-events", "0"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--part-events must be 1 or more" in done.stderr

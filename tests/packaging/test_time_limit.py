"""A test that hangs fails instead of stopping CI: a bug planted in merkle._split once made a test
loop forever. Every test has a time limit (pyproject.toml: timeout), and the run goes on after it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_has_a_time_limit_generous_enough_for_the_slow_ones(pytestconfig):
    assert pytestconfig.pluginmanager.hasplugin("timeout")
    assert float(pytestconfig.getini("timeout")) == 300


def test_a_test_that_hangs_fails_and_the_run_goes_on(tmp_path):
    (tmp_path / "test_hangs.py").write_text(
        "import pytest\n\n\n"
        "@pytest.mark.timeout(2)\n"
        "def test_loops_forever():\n"
        "    while True:\n"
        "        pass\n\n\n"
        "def test_after_it():\n"
        "    assert True\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(ROOT / "pyproject.toml"),
                          "--rootdir", str(tmp_path), str(tmp_path / "test_hangs.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Timeout" in run.stdout and "1 failed, 1 passed" in run.stdout

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

from auditor.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def auditor(capsys, monkeypatch, tmp_path):
    """Run `auditor ARGS` in-process; returns exit code and output. AUDITOR_HOME is tmp_path/home."""
    monkeypatch.setenv("AUDITOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AUDITOR_PASSPHRASE", raising=False)

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def run_process(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real console entry point, in a child process."""
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, env=env, timeout=120)

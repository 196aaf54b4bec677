"""What the local engine makes of the session's vault (the simulated November) through the CLI, each
command run once a session (each xdist worker's) on a copy of its own: the baseline that the other
engines' runs (`--engine partitioned`, `--engine spark`) are compared with, rather than the same
local run made again in every test that needs it. Each run is `python -m auditor` in a process of
its own, signed in as the privacy officer, as a user would run it."""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.copies import copy_home
from tests.signed_in import sign_in

NOVEMBER = ["--from", "2026-11-01", "--to", "2026-11-30"]


@dataclass(frozen=True)
class LocalRun:
    home: Path  # the copy it ran on: its cases and timelines, afterwards
    out: Path  # what it wrote (--out)
    stdout: str
    stderr: str


class LocalEngine:
    def __init__(self, source: Path, root: Path):
        self.source, self.root = source, root

    def _run(self, name: str, *args: str, out: bool = True) -> LocalRun:
        folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.root))  # a failed run's left apart
        home, run = copy_home(self.source, folder / "home"), folder / "run"
        run.mkdir(mode=0o700)
        written = folder / "out"
        with pytest.MonkeyPatch.context() as env:
            env.setenv("XDG_RUNTIME_DIR", str(run))
            env.delenv("AUDITOR_PASSPHRASE", raising=False)
            sign_in(home, "officer")
            done = subprocess.run([sys.executable, "-m", "auditor", "--home", str(home), *args,
                                   *(["--out", str(written)] if out else [])],
                                  capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return LocalRun(home, written, done.stdout, done.stderr)

    @functools.cache
    def findings(self) -> LocalRun:
        """`auditor findings` over November: `out` is the findings file."""
        return self._run("findings", "findings", *NOVEMBER)

    @functools.cache
    def report(self) -> LocalRun:
        """November's monthly report, without the PDF: `out` is its folder."""
        return self._run("report", "report", "monthly", "--month", "2026-11", "--no-pdf")

    @functools.cache
    def evaluate(self, labels: Path) -> LocalRun:
        return self._run("evaluate", "evaluate", "--labels", str(labels), out=False)

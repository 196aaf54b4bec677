"""kill -9 of a process in the middle of appending leaves a log that verifies and a vault that appends
again (SQLite: the killed transaction is rolled back from the WAL, and its sequence numbers reused)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor.home import Vault

from tests.audit.helpers import count, head_size, reads, seqs, verify

ROOT = Path(__file__).resolve().parents[2]
CHILD = (
    "import sys\n"
    "from tests.audit.helpers import read_in_process\n"
    "read_in_process(sys.argv[1], 10**9, sys.argv[2])\n"  # appends until killed
)


def committed(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]


def run_and_kill(home: Path, tag: str, grow_by: int) -> int:
    """Start an appending child; kill -9 it once `grow_by` more events are committed. Its exit status."""
    db = home / "records.db"
    start = committed(db)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(home), tag], cwd=ROOT, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while committed(db) < start + grow_by:
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child did not append"
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(10)
        child.stderr.close()
    return child.returncode


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"])
def test_kill_9_while_appending(population, clock):
    vault = population
    for round_, grow_by in enumerate((7, 13, 23, 31, 41)):  # killed at different distances from a checkpoint
        assert run_and_kill(vault.home, f"child{round_}", grow_by) == -signal.SIGKILL
        n = count(vault)
        assert seqs(vault) == list(range(1, n + 1)) and head_size(vault) == n
        result = verify(vault)
        assert result.ok, result.problems

        reads(vault, 3, tag=f"after{round_}")  # the vault that was open all along appends again
        reopened = Vault.open(vault.home, clock=clock)  # and so does one opened after the crash
        try:
            reads(reopened, 3, tag=f"reopened{round_}")
            with reopened.records.connect() as conn:
                reopened.audit_log.checkpoint_now(conn)
        finally:
            reopened.close()
        assert seqs(vault) == list(range(1, n + 7))
        result = verify(vault)
        assert result.ok, result.problems
        assert result.latest_checkpoint.size == n + 6

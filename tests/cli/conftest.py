from __future__ import annotations

import subprocess
import sys


def run_process(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real console entry point, in a child process."""
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, env=env, timeout=120)

"""A throwaway PostgreSQL cluster for the tests, when none is given in AUDITOR_TEST_POSTGRES_URL.

Started as the `postgres` user (with runuser when we are root) from the server binaries on the
machine; torn down at the end of the session. `.ci/run` starts its own and passes the URL.

Its files are in memory (/dev/shm) where that has 2 GiB free, as in `.ci/run`: most PostgreSQL
tests make two databases (from templates, tests.vault_templates) and drop them, and on a virtual
disk each CREATE DATABASE took about 0.5 s with the other xdist worker busy; on tmpfs, under 0.05 s.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time


IN_MEMORY = "/dev/shm"
IN_MEMORY_FREE = 2 * 1024**3  # the whole suite's cluster took 165 MB at most in CI (2026-12-07)


def _files_folder() -> str | None:
    """Where the cluster's folder goes: /dev/shm when it is there, writable and roomy; else the
    system's temporary folder (None)."""
    try:
        roomy = shutil.disk_usage(IN_MEMORY).free >= IN_MEMORY_FREE
    except OSError:
        return None
    return IN_MEMORY if roomy and os.access(IN_MEMORY, os.W_OK | os.X_OK) else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    def __init__(self) -> None:
        self.dir: str | None = None
        self.bin: str | None = None
        self.url: str | None = None
        self._prefix: list[str] = []

    def start(self) -> str:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        initdb = candidates[-1] if candidates else shutil.which("initdb")
        if not initdb:
            raise RuntimeError("no PostgreSQL server binaries (initdb) on this machine")
        self.bin = os.path.dirname(initdb)
        self.dir = tempfile.mkdtemp(prefix="auditor-pg-", dir=_files_folder())
        prefix: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            prefix = ["runuser", "-u", "postgres", "--"]
        port = _free_port()
        data = os.path.join(self.dir, "data")
        subprocess.run(prefix + [initdb, "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8"],
                       check=True, capture_output=True)
        subprocess.run(prefix + [os.path.join(self.bin, "pg_ctl"), "-D", data, "-w", "-l", os.path.join(self.dir, "log"),
                                 "-o", f"-p {port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                       check=True, capture_output=True)
        self._prefix = prefix
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        return self.url

    def stop(self) -> None:
        if self.dir and self.bin:
            subprocess.run(self._prefix + [os.path.join(self.bin, "pg_ctl"), "-D", os.path.join(self.dir, "data"),
                                           "-m", "immediate", "stop"], capture_output=True)
            time.sleep(0.2)
            shutil.rmtree(self.dir, ignore_errors=True)

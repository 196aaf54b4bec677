"""Worker processes start from the fork server, not from the caller: they hold none of its open
connections, keys or state, and each finds the working folder the caller has when it starts them."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from concurrent.futures import ProcessPoolExecutor

import pytest

from auditor import workers

pytestmark = pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(),
                                reason="no fork server on this platform: workers are spawned")

CALLER_STATE: list[str] = []


def _what_the_worker_sees() -> tuple[int, list[str], str]:
    return os.getppid(), list(CALLER_STATE), os.getcwd()


def test_a_worker_is_forked_from_the_server_not_from_the_caller(tmp_path, monkeypatch):
    connection = sqlite3.connect(tmp_path / "open.db")  # SQLite forbids a forked child to use this
    CALLER_STATE.append("a key the caller holds")
    monkeypatch.chdir(tmp_path)
    try:
        with workers.workers_start_bare(), ProcessPoolExecutor(
                1, mp_context=workers.worker_context("auditor.ingest.formats.fhir")) as pool:
            parent, state, folder = pool.submit(_what_the_worker_sees).result(timeout=120)
    finally:
        CALLER_STATE.clear()
        connection.close()
    assert parent != os.getpid() and state == [] and folder == str(tmp_path)


def test_the_caller_s_main_module_is_back_after_the_workers_start():
    import sys

    main = sys.modules["__main__"]
    with workers.workers_start_bare():
        assert sys.modules["__main__"] is not main and not hasattr(sys.modules["__main__"], "__file__")
    assert sys.modules["__main__"] is main

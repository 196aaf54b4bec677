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


def _niceness_and_pandas() -> tuple[int, bool]:
    import sys

    return os.nice(0), "pandas" in sys.modules


def test_a_worker_has_pandas_before_its_first_task_and_a_mapping_worker_runs_behind_the_caller():
    """pyarrow imports pandas on its first array: the fork server imports it once for every worker. A
    worker mapping a FHIR file yields the cores to the process that appends what it maps."""
    from auditor.ingest.formats import fhir

    with workers.workers_start_bare(), ProcessPoolExecutor(
            1, mp_context=workers.worker_context("auditor.ingest.formats.fhir"),
            initializer=fhir._behind_the_appender) as pool:
        niceness, has_pandas = pool.submit(_niceness_and_pandas).result(timeout=120)
    assert has_pandas
    assert niceness == min(19, os.nice(0) + fhir.WORKER_NICENESS)


def _twice(n: int) -> int:
    if n < 0:
        raise ValueError("a negative number")
    return 2 * n


def test_tasks_submitted_meanwhile_give_their_results_in_order_and_their_failures():
    import sys

    main = sys.modules["__main__"]
    with ProcessPoolExecutor(2, mp_context=workers.worker_context("auditor.ingest.formats.fhir")) as pool:
        with workers.submitted_meanwhile(pool, [(_twice, (n,)) for n in (3, -1, 5)]) as futures:
            assert len(futures) == 3
        assert futures[0].result(timeout=120) == 6 and futures[2].result(timeout=120) == 10
        with pytest.raises(ValueError, match="a negative number"):
            futures[1].result(timeout=120)
    assert sys.modules["__main__"] is main  # put back once the block is left


def test_a_submission_the_pool_refuses_is_the_future_s_exception():
    pool = ProcessPoolExecutor(1, mp_context=workers.worker_context("auditor.ingest.formats.fhir"))
    pool.shutdown()
    with workers.submitted_meanwhile(pool, [(_twice, (1,))]) as futures:
        pass
    with pytest.raises(RuntimeError, match="after shutdown"):
        futures[0].result(timeout=10)

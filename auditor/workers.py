"""Worker processes for work that is split over the machine's cores (verifying the log, mapping a big
FHIR file). They are forked from a fork server: a clean interpreter started once per process, which
imports the module the workers run once. A child forked from the caller itself would inherit
its open SQLite connections, which SQLite forbids, and its keys; a freshly spawned interpreter per
worker costs half a second of imports each, which on a 2-core machine is time taken from the work.
Where there is no fork server (Windows), workers are spawned."""

from __future__ import annotations

import multiprocessing
import sys
import threading
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from types import ModuleType
from typing import Callable, Iterator

# Imported by the fork server before `module`, once for all its workers: pyarrow imports pandas when it
# makes its first array (0.1 s), which each worker would otherwise pay on its first task
PRELOAD = ("pandas",)


def worker_context(module: str) -> multiprocessing.context.BaseContext:
    """Where workers that run `module`'s functions start. The fork server is started once per process,
    by its first caller: a later caller's workers import their module themselves."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([*PRELOAD, module])  # takes effect when the server first starts
        return context
    return multiprocessing.get_context("spawn")


@contextmanager
def workers_start_bare() -> Iterator[None]:
    """A worker imports the parent's main module before its task: for `auditor` that is the whole CLI
    (1.5 s a worker), and the bench's scripts no less. While workers start, the parent's main module
    is a bare one, so a worker imports only what its task needs."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


@contextmanager
def submitted_meanwhile(pool: Executor, calls: list[tuple[Callable, tuple]]) -> Iterator[list[Future]]:
    """`pool`'s first tasks (function, arguments), submitted by a thread while the caller goes on: the
    first submission waits for the fork server to start (its imports: 0.2 s), which the caller spends
    working rather than waiting with a core idle. The futures, in the order of `calls`, are the tasks'
    (a submission refused holds its exception). The workers start bare (workers_start_bare) meanwhile:
    nothing else of this process may read its main module until the block is left."""
    futures = [Future() for _ in calls]

    def submit_all() -> None:
        with workers_start_bare():
            for (function, arguments), future in zip(calls, futures):
                try:
                    task = pool.submit(function, *arguments)
                except BaseException as refused:  # noqa: BLE001 - handed to whoever reads the future
                    future.set_exception(refused)
                else:
                    task.add_done_callback(lambda done, future=future: _pass_on(done, future))

    thread = threading.Thread(target=submit_all, name="auditor-workers-start", daemon=True)
    thread.start()
    try:
        yield futures
    finally:
        thread.join()


def _pass_on(done: Future, future: Future) -> None:
    if done.cancelled():
        future.cancel()
    elif done.exception() is not None:
        future.set_exception(done.exception())
    else:
        future.set_result(done.result())

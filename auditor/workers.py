"""Worker processes for work that is split over the machine's cores (verifying the log, mapping a big
FHIR file). They are forked from a fork server: a clean interpreter started once per process, which
imports the module the workers run once. A child forked from the caller itself would inherit
its open SQLite connections, which SQLite forbids, and its keys; a freshly spawned interpreter per
worker costs half a second of imports each, which on a 2-core machine is time taken from the work.
Where there is no fork server (Windows), workers are spawned."""

from __future__ import annotations

import multiprocessing
import sys
from contextlib import contextmanager
from types import ModuleType
from typing import Iterator


def worker_context(module: str) -> multiprocessing.context.BaseContext:
    """Where workers that run `module`'s functions start. The fork server is started once per process,
    by its first caller: a later caller's workers import their module themselves."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([module])  # takes effect when the server first starts
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

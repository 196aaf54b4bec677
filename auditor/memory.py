"""Keeping freed memory in the process instead of handing it back to the kernel after each step.

The engine and the ingest build and drop columns of ten million values (80 MB each) thousands of
times. glibc's malloc serves every allocation above its mmap threshold (at most 32 MiB) with fresh
pages from the kernel and unmaps them when freed, so each such column is page-faulted in and zeroed
again: on the 2-core benchmark machine that was as much system time as computing (107 s of 211 s at
ten million events). Raising the mmap and trim thresholds (mallopt(3), M_MMAP_THRESHOLD and
M_TRIM_THRESHOLD) lets freed blocks be reused from the heap, and Arrow's buffers (pandas keeps text in
them) are then taken from the same heap. The peak stays the peak; what is
freed is not returned until the process ends, which for a command that runs one job is no loss. A
command that serves until stopped (auditor serve, auditor listen) does not keep it: the web app would
otherwise hold the peak of its largest work, a monthly report, until it was restarted.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from contextlib import contextmanager
from functools import cache
from typing import Iterator

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_LARGEST = 2**31 - 1  # mallopt takes a C int
# what glibc's own dynamic thresholds settle at (mallopt(3)): a block of 32 MiB or more (a column of
# four million values) is mapped and unmapped, smaller ones are reused from the heap
_RETURNED_MMAP, _RETURNED_TRIM = 32 << 20, 64 << 20
_kept = False
_one_job = False


@cache
def _libc() -> ctypes.CDLL:
    """glibc, with the signatures of the two calls used here (AttributeError: a C library without them)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    return libc


def _thresholds(mmap: int, trim: int) -> bool:
    return bool(_libc().mallopt(_M_MMAP_THRESHOLD, mmap)) and bool(_libc().mallopt(_M_TRIM_THRESHOLD, trim))


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to reuse freed memory (idempotent). True when it did; False off glibc Linux."""
    global _kept
    if _kept:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        _libc()
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    _kept = _thresholds(_LARGEST, _LARGEST)
    if _kept:  # Arrow's own allocator (mimalloc) purges freed pages after milliseconds: use malloc's heap too
        import pyarrow

        pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    return _kept


def one_job_per_process() -> bool:
    """This process runs one job and ends (an `auditor` command other than serve and listen, a bench):
    it keeps freed memory (keep_freed_memory), and what a step made without cyclic collection stays
    out of the collector's later walks (no_cycle_collection). Returns keep_freed_memory's answer."""
    global _one_job
    _one_job = True
    return keep_freed_memory()


def freed_memory_kept() -> bool:
    """Whether this process keeps freed memory (keep_freed_memory took effect)."""
    return _kept


def return_free_pages() -> None:
    """Hand the whole pages malloc holds free back to the kernel now (malloc_trim(3)); nothing off glibc."""
    if _kept:
        _libc().malloc_trim(0)


@contextmanager
def freed_memory_returned() -> Iterator[None]:
    """Within it, freed memory goes back to the kernel again (as glibc's own thresholds give), and what is
    free when it starts goes at once (malloc_trim): for a step whose point is its peak, the partitioned
    engine. Each large column is then page-faulted in anew, which costs time: on the 60-million-event
    month by role, 155 s and a peak of 14.0 GB kept, 190 s and 10.6 GB returned (kept, what the steps
    before had freed and what each partition freed stayed in the process). Kept again after."""
    if not _kept:
        yield
        return
    import pyarrow

    _thresholds(_RETURNED_MMAP, _RETURNED_TRIM)
    return_free_pages()
    kept_pool = pyarrow.default_memory_pool()
    pyarrow.set_memory_pool(pyarrow.mimalloc_memory_pool())  # Arrow's own, which hands freed pages back soon
    try:
        yield
    finally:
        pyarrow.set_memory_pool(kept_pool)
        _thresholds(_LARGEST, _LARGEST)


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """No cyclic garbage collection inside: for steps that make hundreds of thousands of objects
    holding no reference cycles (findings, their rows, the files written of them), which the collector
    would otherwise walk again and again together with everything the process holds (a review at ten
    million events spent a fifth of its time there). Collection resumes after, if it was on before.

    In a process that runs one job (one_job_per_process), what the step made is collected once and
    the rest frozen (gc.freeze): the collector's later passes, in the report's steps, would otherwise
    walk the review's millions of findings, rows and cuts again and again (at ten million events the
    report's own build took 3.6 s after a review without the pause, and 7.7 s with it). A process that
    serves until stopped is not frozen: objects frozen there that later became cyclic garbage would
    never be freed."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if _one_job:
                gc.collect()  # the step's own cyclic garbage (none is expected), then what lives on is frozen
                gc.freeze()
            gc.enable()

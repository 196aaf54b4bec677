"""keep_freed_memory: on glibc Linux (this machine and CI) malloc is told to keep freed memory and
Arrow allocates from the same heap; calling it again changes nothing. freed_memory_returned: within it,
freed memory goes back to the kernel, and after it is kept again."""

from __future__ import annotations

import gc
import sys

import pyarrow as pa
import pytest

import numpy as np

from auditor.memory import freed_memory_returned, keep_freed_memory, no_cycle_collection


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_memory_is_kept_and_arrow_uses_the_same_heap():
    assert keep_freed_memory() is True
    assert pa.default_memory_pool().backend_name == "system"
    assert keep_freed_memory() is True
    big = pa.array(range(1_000_000))  # allocations still work both ways
    assert big.sum().as_py() == 499_999_500_000


def _resident_mb() -> float:
    with open("/proc/self/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) / 1024


def _freed_and_still_resident() -> float:
    """The megabytes a freed 400 MB array leaves resident in this process."""
    before = _resident_mb()
    block = np.ones(50_000_000)  # 400 MB, each page touched
    del block
    return _resident_mb() - before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_within_freed_memory_returned_a_freed_block_leaves_and_arrow_uses_its_own_pool():
    assert keep_freed_memory() is True
    with freed_memory_returned():
        assert _freed_and_still_resident() < 100
        assert pa.default_memory_pool().backend_name == "mimalloc"
        assert pa.array(range(1_000)).sum().as_py() == 499_500
    assert pa.default_memory_pool().backend_name == "system"  # kept again after
    assert _freed_and_still_resident() > 300


_MEMORY_OF = """
import sys
import pyarrow
from auditor.cli import main
from auditor.memory import freed_memory_kept
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(freed_memory_kept(), pyarrow.default_memory_pool().backend_name)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
@pytest.mark.parametrize("command, kept", [(["findings", "--help"], True), (["ingest", "--help"], True),
                                           (["serve", "--help"], False), (["listen", "--help"], False)])
def test_a_command_that_serves_until_stopped_gives_freed_memory_back(command, kept, tmp_path):
    """One job per process keeps freed memory for reuse; the web app and the ATNA listener run for
    months, and would hold the peak of their largest work (a monthly report) until restarted."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", _MEMORY_OF, *command], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == ("True system" if kept else "False mimalloc")


def test_cycle_collection_resumes_after_a_step_that_paused_it_even_when_the_step_fails():
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with no_cycle_collection():
            assert not gc.isenabled()
            with no_cycle_collection():  # a writer inside a review: the review's pause holds
                pass
            assert not gc.isenabled()
            raise RuntimeError("the step failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with no_cycle_collection():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


_FROZEN_AFTER = """
import gc, sys, weakref
from auditor import memory
if sys.argv[1] == "one job":
    memory.one_job_per_process()
class Node:
    pass
with memory.no_cycle_collection():
    kept = [Node() for _ in range(1000)]  # what the step made and keeps
    cycle = Node()
    cycle.me = cycle  # cyclic garbage the step left
    gone = weakref.ref(cycle)
    del cycle
frozen = gc.get_freeze_count() >= 1000
gc.collect()  # a cycle frozen would never be freed
print(gc.isenabled(), frozen, gone() is None)
"""


@pytest.mark.parametrize("process, frozen", [("one job", True), ("serving", False)])
def test_a_one_job_process_freezes_what_a_paused_step_made_after_collecting_its_cycles(process, frozen):
    """After a review, the report's steps would have the collector walk the review's objects again and
    again; a process that runs one job collects once and freezes them. One that serves does not: what
    it froze could never be collected."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", _FROZEN_AFTER, process], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", str(frozen), "True"]

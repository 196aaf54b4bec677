"""keep_freed_memory: on glibc Linux (this machine and CI) malloc is told to keep freed memory and
Arrow allocates from the same heap; calling it again changes nothing."""

from __future__ import annotations

import sys

import pyarrow as pa
import pytest

from auditor.memory import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_memory_is_kept_and_arrow_uses_the_same_heap():
    assert keep_freed_memory() is True
    assert pa.default_memory_pool().backend_name == "system"
    assert keep_freed_memory() is True
    big = pa.array(range(1_000_000))  # allocations still work both ways
    assert big.sum().as_py() == 499_999_500_000

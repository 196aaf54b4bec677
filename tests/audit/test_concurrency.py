"""Concurrent appenders (threads sharing a vault, processes each opening the home) take consecutive
sequence numbers: no gap, no duplicate, and the log verifies against every checkpoint they signed."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from tests.audit.helpers import count, head_size, reads, read_in_process, seqs, verify


def assert_consistent(vault, expected: int) -> None:
    assert seqs(vault) == list(range(1, expected + 1))
    assert count(vault) == head_size(vault) == expected
    result = verify(vault)
    assert result.ok, result.problems
    assert result.size == expected and result.checkpoints_checked >= expected // 10 - 1


def test_concurrent_threads(population):
    vault = population
    before = count(vault)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker(tag: str) -> None:
        try:
            start.wait()
            reads(vault, 25, tag=tag, pause=0.002)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    assert_consistent(vault, before + 100)


@pytest.mark.slow
def test_concurrent_processes(population):
    vault = population
    before = count(vault)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(3)
    processes = [ctx.Process(target=read_in_process, args=(str(vault.home), 30, f"p{i}", start)) for i in range(3)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(90)
    for p in processes:
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in processes] == [0, 0, 0]  # a failing worker prints its traceback
    assert_consistent(vault, before + 90)
    reads(vault, 3, tag="parent")  # the parent's own appender carries on after them
    assert_consistent(vault, before + 93)

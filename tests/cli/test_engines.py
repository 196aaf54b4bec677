"""--engine, --master, --export-dir and --part-events become the engine a command judges with
(auditor.cli.engines): the bound on a part reaches the engine that splits roles, and the local engine,
which splits nothing, refuses it."""

from __future__ import annotations

import pytest

from auditor.cli.engines import engine_options
from auditor.cluster.local_partitions import ByRole
from auditor.cluster.peer_group_split import PART_EVENTS
from auditor.errors import InputError
from auditor.review.period import on_this_machine


def test_the_part_bound_reaches_the_partitioned_engine():
    assert engine_options("partitioned", None, None, 1500)("officer") == ByRole(None, 1500)
    assert engine_options("partitioned", None, None)("officer").most_events == PART_EVENTS


def test_the_part_bound_reaches_the_spark_engine():
    pytest.importorskip("pyspark")
    engine = engine_options("spark", "local[2]", None, 1500)("officer")
    assert (engine.master, engine.member, engine.most_events) == ("local[2]", "officer", 1500)
    assert engine_options("spark", None, None)("officer").most_events == PART_EVENTS


def test_the_local_engine_takes_no_part_bound():
    assert engine_options("local", None, None)("officer") is on_this_machine
    with pytest.raises(InputError, match="--part-events goes with --engine partitioned or spark"):
        engine_options("local", None, None, 1500)

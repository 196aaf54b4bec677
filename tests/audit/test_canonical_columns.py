"""Canonical bytes built from Arrow columns for a whole block are the bytes canonical_bytes gives each
event: every type, nulls, text JSON must escape, non-ASCII text, fixed and variable-width bytes."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from auditor.audit import blocks
from auditor.audit.canonical_columns import leaf_inputs
from auditor.audit.events import canonical_bytes

_text = st.one_of(st.none(), st.text(max_size=10), st.sampled_from(["", "Zoë", 'say "hi"', "back\\slash", "tab\there",
                                                                      "\x00", "\u2028", "\x7f", "WS-1"]))
_hash = st.one_of(st.none(), st.binary(min_size=32, max_size=32))
_row = st.tuples(st.integers(1, 2**62), st.integers(-(2**62), 2**62), _text, _text, _hash, _text, _text,
                 st.sampled_from(["view", "print"]), st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
                 _text, _text, _text, _text, st.booleans(), st.one_of(st.none(), st.binary(max_size=70)),
                 st.sampled_from(["success", "denied"]), _text, _text)


@settings(max_examples=300, deadline=None)
@given(st.lists(_row, min_size=1, max_size=25))
def test_leaf_inputs_are_the_canonical_bytes_of_each_event(rows):
    table = blocks.decode(blocks.encode(list(zip(*rows))), 1, len(rows))
    assert leaf_inputs(table) == [b"\x00" + canonical_bytes(r) for r in rows]


def test_a_column_of_row_hashes_and_no_reasons():
    rows = [(i, 10 * i, "ehr", f"E{i}", bytes([i % 256]) * 32, "u", None, "view", None, None, None, None, None, False, None,
             "success", None, None) for i in range(1, 300)]
    table = blocks.decode(blocks.encode(list(zip(*rows))), 1, len(rows))
    assert leaf_inputs(table) == [b"\x00" + canonical_bytes(r) for r in rows]


def test_one_long_value_among_many_nulls_takes_memory_in_proportion(tmp_path):
    """A sealed 40 MB value among 1,000 empty ones: Arrow's take sized its output by the mean length
    times the rows (80 GB); the hex text is built in one buffer of its own size. Run in a child
    whose address space the OS caps at 3 GB."""
    import resource
    import subprocess
    import sys
    from pathlib import Path

    script = ("import pyarrow as pa\n"
              "from auditor.audit.canonical_columns import _json\n"
              "values = [None] * 1000\n"
              "values[3] = bytes(range(256)) * 160_000\n"
              "(text,), _ = _json(pa.array(values, pa.binary()))\n"
              "assert text[3].as_py() == '\"' + values[3].hex() + '\"' and text[0].as_py() == 'null'\n")

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, "-c", script], cwd=root, preexec_fn=cap, capture_output=True, text=True,
                          env={"PYTHONPATH": root, "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

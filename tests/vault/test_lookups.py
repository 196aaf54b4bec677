"""The ingest's key lookups: chunk after chunk, each key maps to what a plain dict says, whatever the
text (empty, NUL bytes, accents, longer than a word), and a hash collision never gives a wrong answer."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings, strategies as st

from auditor.vault.gateway.lookups import Lookup, text_hashes

KEYS = st.one_of(st.none(), st.sampled_from(["", "a", "a\x00", "MRN00000001", "MRN00000002", "é", "ab" * 20]),
                 st.text(max_size=30))


def _expected(truth: dict, chunk: list) -> list:
    return [truth.get(k) if k is not None else None for k in chunk]


@settings(max_examples=150, deadline=None)
@given(chunks=st.lists(st.lists(KEYS, max_size=40), min_size=1, max_size=5), known=st.sets(st.text(max_size=30)))
def test_every_chunk_maps_as_a_dict_would(chunks, known):
    truth = {k: i for i, k in enumerate(sorted(known))}
    asked: list[str] = []

    def look_up(names):
        asked.extend(names)
        return {k: truth[k] for k in names if k in truth}

    lookup = Lookup(pa.int64())
    for chunk in chunks:
        assert lookup.mapped(pa.array(chunk, pa.string()), look_up).to_pylist() == _expected(truth, chunk)
    assert len(asked) == len(set(asked))  # each key asked of the database once
    assert set(asked) == {k for chunk in chunks for k in chunk if k is not None}


def test_a_sliced_or_chunked_column_maps_the_same():
    truth = {"x": "nurse", "y": "physician"}
    column = pa.chunked_array([pa.array(["q", "x", None]), pa.array(["y", "x", "z"])])
    lookup = Lookup(pa.string())
    look_up = lambda names: {k: truth[k] for k in names if k in truth}  # noqa: E731
    assert lookup.mapped(column, look_up).to_pylist() == [None, "nurse", None, "physician", "nurse", None]
    assert lookup.mapped(pa.array(["z", "y", "x", "q"]).slice(1), look_up).to_pylist() == ["physician", "nurse", None]


def test_colliding_hashes_still_give_the_right_values():
    truth, asked = {f"k{i}": i for i in range(50)}, []
    lookup = Lookup(pa.int64(), hashes=lambda text: np.zeros(len(text), dtype=np.uint64))  # every key collides

    def look_up(names):
        asked.extend(names)
        return {k: truth[k] for k in names if k in truth}

    first = ["k1", "k2", "nobody", None]
    assert lookup.mapped(pa.array(first), look_up).to_pylist() == _expected(truth, first)
    second = ["k2", "k3", "k1", "k49", "nobody"]
    assert lookup.mapped(pa.array(second), look_up).to_pylist() == _expected(truth, second)
    assert sorted(asked) == sorted({"k1", "k2", "nobody", "k3", "k49"})  # each key asked of the database once


@given(st.lists(st.text(max_size=40), max_size=30))
def test_a_value_hashes_the_same_whatever_is_beside_it(values):
    together = text_hashes(pa.array(values, pa.string())).tolist()
    assert together == [int(text_hashes(pa.array([v], pa.string()))[0]) for v in values]


def test_hashes_tell_apart_what_differs_only_in_length_or_a_late_byte():
    hashes = text_hashes(pa.array(["", "\x00", "a", "a\x00", "abcdefgh", "abcdefghi", "abcdefgi", "abcdefgh" * 3]))
    assert len(set(hashes.tolist())) == 8

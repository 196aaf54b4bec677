"""What one file's ingest has looked up: each MRN's patient and each account's role, asked of the
database once per key and then mapped chunk by chunk without a Python object per row.

Arrow's `index_in` would do the mapping in C, but it builds a hash table of the whole value set on
every call: 250,000 MRNs took about 55 ms a chunk, a seventh of the ingest's time at 10 million
events. So the keys seen so far are kept with a 64-bit hash of each, sorted: a chunk's keys are
hashed by numpy (8 bytes at a time), found by binary search, and every candidate is confirmed by
comparing the text itself, so a hash collision can cost speed but never a wrong answer (two known
keys with one hash switch the lookup to `index_in` for good).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_SEED, _MULTIPLY = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9)


def text_hashes(text: pa.Array) -> np.ndarray:
    """A 64-bit hash of each value of a string or binary array (its bytes and its length; null
    values hash as empty). Equal values hash equal; unequal values rarely do."""
    text = text.cast(pa.large_binary())
    n = len(text)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset : text.offset + n + 1]
    starts, lengths = offsets[:-1], np.diff(offsets)
    hashes = lengths.astype(np.uint64) * _MULTIPLY
    data = text.buffers()[2]
    longest = int(lengths.max()) if n else 0
    if not longest:
        return hashes
    padded = np.zeros(len(data) + 8, dtype=np.uint8)  # every 8-byte read below stays inside
    padded[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    words = np.ndarray(shape=(len(data) + 1,), dtype="<u8", buffer=padded, strides=(1,))  # 8 bytes from each offset
    with np.errstate(over="ignore"):
        for at in range(0, longest, 8):
            word = words[np.minimum(starts + at, len(data))]
            left = np.clip(lengths - at, 0, 8).astype(np.uint64)  # bytes of this word inside the value
            word &= np.where(left == 8, np.uint64(~np.uint64(0)), (np.uint64(1) << (left * np.uint64(8))) - np.uint64(1))
            mixed = (hashes ^ word) * _SEED
            hashes = np.where(left > 0, mixed ^ (mixed >> np.uint64(31)), hashes)  # a value's hash is its own bytes'
        hashes = (hashes ^ (hashes >> np.uint64(30))) * _MULTIPLY
        return hashes ^ (hashes >> np.uint64(27))


class Lookup:
    """Keys already looked up (MRNs, user ids) and what each maps to (None: nothing). A chunk's keys
    are mapped in bulk; only keys never seen before are looked up in the database."""

    def __init__(self, kind: pa.DataType, hashes: Callable[[pa.Array], np.ndarray] = text_hashes) -> None:
        self.kind, self._hash = kind, hashes  # hashes: text_hashes (a test gives one that collides)
        self.keys, self.values = pa.array([], pa.string()), pa.array([], kind)
        self._hashes = np.empty(0, dtype=np.uint64)  # of self.keys, sorted
        self._order = np.empty(0, dtype=np.int64)  # the position in self.keys of each sorted hash
        self._collided = False  # two known keys share a hash: index_in from now on

    def mapped(self, keys: pa.Array | pa.ChunkedArray, look_up: Callable[[list[str]], dict]) -> pa.Array:
        """The value of each of `keys` (null where the key is null or maps to nothing)."""
        if isinstance(keys, pa.ChunkedArray):
            keys = keys.combine_chunks()
        keys = keys.cast(pa.string())
        at = self._positions(keys)
        new = pc.unique(pc.filter(keys, pc.and_(pc.is_valid(keys), pc.is_null(at))))
        if len(new):
            names = new.to_pylist()
            found = look_up(names)
            known = len(self.keys)
            self._add(new, pa.array([found.get(k) for k in names], self.kind))
            at = pc.coalesce(at, pc.add(pc.index_in(keys, value_set=new).cast(pa.int64()), known))
        return pc.take(self.values, at)

    def _positions(self, keys: pa.Array) -> pa.Array:
        """Each key's position in self.keys (null: a null key or one not seen yet)."""
        if self._collided:
            return pc.index_in(keys, value_set=self.keys)
        if not len(self._hashes):
            return pa.nulls(len(keys), pa.int64())
        hashes = self._hash(keys)
        slot = np.minimum(np.searchsorted(self._hashes, hashes), len(self._hashes) - 1)
        candidate = self._order[slot]
        same = (self._hashes[slot] == hashes) & keys.is_valid().to_numpy(zero_copy_only=False)
        same[same] = pc.equal(keys.filter(pa.array(same)), self.keys.take(candidate[same])).to_numpy(zero_copy_only=False)
        return pa.array(candidate, pa.int64(), mask=~same)

    def _add(self, keys: pa.Array, values: pa.Array) -> None:
        start = len(self.keys)
        self.keys, self.values = pa.concat_arrays([self.keys, keys]), pa.concat_arrays([self.values, values])
        hashes = self._hash(keys)
        by_hash = np.argsort(hashes, kind="stable")
        hashes, order = hashes[by_hash], np.arange(start, len(self.keys), dtype=np.int64)[by_hash]
        at = np.searchsorted(self._hashes, hashes)  # merged in (not the whole list sorted again)
        self._hashes, self._order = np.insert(self._hashes, at, hashes), np.insert(self._order, at, order)
        if (self._hashes[1:] == self._hashes[:-1]).any():
            self._collided = True


@dataclass
class IngestLookups:
    """What one file's ingest has looked up: MRN -> internal patient id, user id -> role."""

    patients: Lookup = field(default_factory=lambda: Lookup(pa.int64()))
    roles: Lookup = field(default_factory=lambda: Lookup(pa.string()))

"""The canonical bytes of many events at once, from their Arrow columns: the same bytes as
`events.canonical_bytes` gives one event at a time (tested against it), built by Arrow's string
kernels instead of one JSON encoding per event.

Each value is written as Python's JSON encoder writes it with ensure_ascii off: integers in decimal,
booleans as true/false, missing values as null, bytes as quoted lowercase hex, text quoted. Text that
JSON must escape (a quote, a backslash, a control character) is rare in an access log; the events that
hold any are encoded one by one by `canonical_bytes` itself. The whole line is one join of literal
text and columns: what every row shares (the version, commas, quotes, a column with no value) is
written as literals, not as a column of copies.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from auditor.audit.events import CANONICAL_VERSION, canonical_bytes

_ESCAPED = r'[\x00-\x1f"\\]'  # what json.encoder.encode_basestring rewrites
_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")


def _quoted(text: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise('"', text, '"', "")


def _hex(values: pa.Array) -> pa.Array:
    """Binary values as quoted lowercase hex (null stays null)."""
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    present = values.filter(values.is_valid())
    lengths = pc.binary_length(present).to_numpy(zero_copy_only=False)
    if len(present) and (lengths == lengths[0]).all() and lengths[0] > 0:  # fixed width (a row hash): numpy
        width = int(lengths[0])
        raw = np.frombuffer(b"".join(present.to_pylist()), dtype=np.uint8)
        digits = _HEX[raw].tobytes()
        offsets = np.arange(0, 2 * width * (len(present) + 1), 2 * width, dtype=np.int32)
        text = pa.Array.from_buffers(pa.string(), len(present), [None, pa.py_buffer(offsets), pa.py_buffer(digits)])
    else:
        text = pa.array([v.hex() for v in present.to_pylist()], pa.string())
    at = pa.array(np.cumsum(valid) - 1, pa.int64(), mask=~valid)  # each row's place among the present ones
    return _quoted(text).take(at)


def _json(values: pa.Array) -> tuple[list, pa.Array | None]:
    """(each value as JSON text, as pieces to join: literal text and arrays; the rows whose text needs
    escaping or None). A column with no value is the literal null; text with no null gets its quotes
    as literals around the values themselves (no array of quoted copies)."""
    kind, n = values.type, len(values)
    if values.null_count == n:
        return ["null"], None
    if pa.types.is_integer(kind):
        text = pc.cast(values, pa.string())
        return [text if not values.null_count else pc.fill_null(text, "null")], None
    if pa.types.is_boolean(kind):
        return [pc.if_else(pc.fill_null(values, False), "true", "false")], None
    if pa.types.is_binary(kind):
        return [pc.fill_null(_hex(values), "null")], None
    escaped = _needs_escaping(values)
    if not values.null_count:
        return ['"', values, '"'], escaped
    return [pc.fill_null(_quoted(values), "null")], escaped


def _needs_escaping(text: pa.Array) -> pa.Array | None:
    """The rows holding a character JSON escapes, or None when no byte of the column's data is one
    (one pass of numpy over the bytes; the regex runs only on a column that has any)."""
    data = text.buffers()[2]
    if data is None or not len(data):
        return None
    raw = np.frombuffer(data, dtype=np.uint8)
    if not ((raw < 0x20) | (raw == 0x22) | (raw == 0x5C)).any():
        return None
    return pc.fill_null(pc.match_substring_regex(text, _ESCAPED), False)


def leaf_inputs(table: pa.Table) -> list[bytes]:
    """0x00 || canonical bytes of each event of `table` (SCHEMA of auditor.audit.blocks, reason sealed):
    what its leaf hash is the SHA-256 of."""
    pieces: list = [f'\x00["{CANONICAL_VERSION}"']
    escaped = None
    for column in table.columns:
        parts, needs = _json(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column)
        pieces += [",", *parts]
        if needs is not None:
            escaped = needs if escaped is None else pc.or_(escaped, needs)
    pieces.append("]")
    merged: list = []  # neighbouring literals as one scalar
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    arguments = [pa.scalar(p, pa.string()) if isinstance(p, str) else p for p in merged]
    if not any(isinstance(p, pa.Array) for p in arguments):  # every column literal: one text for every row
        arguments.append(pa.array([""] * table.num_rows, pa.string()))
    out = pc.binary_join_element_wise(*arguments, "").cast(pa.binary()).to_pylist()
    if escaped is not None and pc.any(escaped).as_py():
        for i in np.flatnonzero(escaped.to_numpy(zero_copy_only=False)).tolist():
            row = tuple(column[i].as_py() for column in table.columns)
            out[i] = b"\x00" + canonical_bytes(row)
    return out

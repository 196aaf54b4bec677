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
    """Binary values as quoted lowercase hex (null stays null), written straight into one buffer of
    exactly 2 bytes per byte plus the quotes: Arrow's take of long values sizes its output by the
    mean length times the rows (80 GB for one 40 MB value among 1,000 nulls)."""
    n = len(values)
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    present = values.filter(values.is_valid())
    lengths = pc.binary_length(present).to_numpy(zero_copy_only=False).astype(np.int64)
    if len(present) and (lengths == lengths[0]).all() and 0 < lengths[0] <= 64:  # a row hash: numpy
        raw = np.frombuffer(b"".join(present.to_pylist()), dtype=np.uint8).reshape(len(present), -1)
        quoted = np.full((len(present), 2 * raw.shape[1] + 2), ord('"'), dtype=np.uint8)
        quoted[:, 1:-1] = _HEX[raw].view(np.uint8).reshape(len(present), -1)
        data = quoted.tobytes()
    else:
        data = b"".join(b'"%s"' % v.hex().encode("ascii") for v in present.to_pylist())
    offsets = np.zeros(n + 1, dtype=np.int64)
    offsets[1:][valid] = 2 * lengths + 2
    np.cumsum(offsets, out=offsets)
    kind, width = (pa.string(), np.int32) if offsets[-1] < 2**31 else (pa.large_string(), np.int64)
    bitmap = None if valid.all() else pa.array(valid, pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(kind, n, [bitmap, pa.py_buffer(offsets.astype(width)), pa.py_buffer(data)],
                                 null_count=int(n - valid.sum()))


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

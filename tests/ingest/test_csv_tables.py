"""CsvTable reads what Python's csv module reads, record for record and line for line, whichever of
its two readers (Arrow's, a block at a time, or the csv module's) takes each part of the file, and
wherever the blocks are cut."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.ingest.csv_source import KEPT_CHARACTERS, MAX_RECORD_BYTES
from auditor.ingest.csv_tables import CsvTable

VALUES = ["a", "", "x y", "é", " s ", "a,b", 'said "now"', "l1\nl2", "l1\r\nl2", "\r", 'x"y', '"un', "z" * 40]


def reference(text: str) -> tuple[list[tuple[int, list[str], int]], int]:
    """(physical line, fields, lines it covers) of each record after the header, as the csv module
    reads the file, and the count of physical lines after the header."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    out, before = [], reader.line_num
    header = before
    for record in reader:
        if record:  # a blank line holds no record
            out.append((before + 1, record, reader.line_num - before))
        before = reader.line_num
    return out, reader.line_num - header


def read_all(path, text: str, block_bytes: int) -> tuple[list[tuple[int, list[str], int]], int]:
    """What CsvTable reads, in the same shape, and the lines its chunks account for."""
    path.write_bytes(text.encode("utf-8"))
    out, lines = [], 0
    for chunk in CsvTable(path, ()).chunks(block_bytes=block_bytes):
        lines += chunk.line_count
        for i in range(len(chunk)):
            fields = (chunk.records[i] if chunk.records is not None
                      else [column[i].as_py() for column in chunk.table.columns])
            out.append((int(chunk.lines[i]), fields, int(chunk.covered[i])))
    return out, lines


def read(path, text: str, block_bytes: int) -> list[tuple[int, list[str]]]:
    return [(line, fields) for line, fields, _ in read_all(path, text, block_bytes)[0]]


@st.composite
def files(draw) -> str:
    """A header of three columns and rows mostly of three fields, quoted as a writer quotes, with now
    and then what a careless one writes: a stray quote, a short or long row, a blank line, CR LF."""
    end = draw(st.sampled_from(["\n", "\r\n"]))
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        width = draw(st.sampled_from([3] * 9 + [1, 2, 4]))
        fields = []
        for _ in range(width):
            value = draw(st.sampled_from(VALUES))
            careless = draw(st.integers(0, 19)) == 0
            if not careless and (any(c in value for c in ',"\r\n') or draw(st.booleans())):
                value = '"' + value.replace('"', '""') + '"'
            fields.append(value)
        rows.append(",".join(fields))
    return "h1,h2,h3" + end + end.join(rows) + draw(st.sampled_from(["", end, end + end]))


@settings(max_examples=400, deadline=None)
@given(files(), st.sampled_from([1, 7, 40, 1 << 20]))
def test_records_and_lines_are_what_the_csv_module_reads(tmp_path_factory, text, block_bytes):
    path = tmp_path_factory.mktemp("csv") / "access_log.csv"
    assert read_all(path, text, block_bytes) == reference(text)  # every physical line accounted for


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=list('ab,"\n\r x'), max_size=60), st.sampled_from([1, 3, 100]))
def test_any_text_at_all(tmp_path_factory, body, block_bytes):
    text = "h1,h2,h3\n" + body
    path = tmp_path_factory.mktemp("csv") / "access_log.csv"
    try:
        expected = reference(text)
    except csv.Error:
        return
    assert read_all(path, text, block_bytes) == expected


def test_a_well_formed_file_is_read_by_arrow_a_block_at_a_time(tmp_path):
    text = "event_id,reason\n" + "".join(f'e{i},"note, {i}"\n' for i in range(1000))
    path = tmp_path / "access_log.csv"
    path.write_text(text, encoding="utf-8")
    chunks = list(CsvTable(path, ("event_id", "reason")).chunks(block_bytes=4096))
    assert len(chunks) > 1 and all(c.records is None for c in chunks)  # no block fell back to the csv module
    assert [int(line) for c in chunks for line in c.lines] == list(range(2, 1002))
    assert chunks[-1].table["reason"][-1].as_py() == "note, 999"


def test_a_record_the_csv_module_cannot_read_has_its_lines_read_alone_and_the_rest_is_read(tmp_path):
    """A field over the csv module's field_size_limit stopped the whole file ("not readable CSV"): its
    record's lines are read one by one instead, the line it cannot read is unread, the rest loads."""
    path = tmp_path / "access_log.csv"
    rows = "".join(f"e{i},x\n" for i in range(3000))
    # the blank line sends the last block to the csv module, which refuses a field over its limit
    path.write_text("event_id,reason\n" + rows + '\ne3000,"' + "y" * 500 + '"\ne3001,z\n', encoding="utf-8")
    limit = csv.field_size_limit(100)
    try:
        chunks = list(CsvTable(path, ("event_id", "reason")).chunks(block_bytes=4096))
    finally:
        csv.field_size_limit(limit)
    unread = [u for c in chunks for u in c.unread]
    assert [(u.line, u.reason) for u in unread] == [(3003, "not readable CSV (field larger than field limit (100))")]
    assert json.loads(unread[0].kept) == {"line": 'e3000,"' + "y" * 500 + '"'}
    assert [int(line) for c in chunks for line in c.lines][-2:] == [3001, 3004]
    assert sum(c.line_count for c in chunks) == 3004 - 1  # every line after the header


def _big(path, lines: list[bytes], **bounds) -> list:
    path.write_bytes(b"event_id,reason\n" + b"".join(lines))
    return list(CsvTable(path, ("event_id", "reason")).chunks(**bounds))


def test_a_line_longer_than_the_bound_is_never_held_and_is_kept_as_its_start_length_and_digest(tmp_path):
    """One 20 MB field once stopped an ingest for good; a line over MAX_RECORD_BYTES is consumed a
    buffer at a time, unread, and the lines around it are read."""
    long = b"e1,\"" + b"y" * (MAX_RECORD_BYTES + 10) + b"\""
    chunks = _big(tmp_path / "access_log.csv", [b"e0,a\n", long + b"\r\n", b"e2,b\n"])
    unread = [u for c in chunks for u in c.unread]
    assert [(u.line, u.reason) for u in unread] == [(3, "line longer than 16 MiB: not read")]
    assert json.loads(unread[0].kept) == {"line": long[: KEPT_CHARACTERS].decode(), "bytes": len(long),
                                          "sha256": hashlib.sha256(long).hexdigest()}
    assert [(int(line), r) for c in chunks for line, r in zip(c.lines, c.table["reason"].to_pylist())] == [
        (2, "a"), (4, "b")]
    assert sum(c.line_count for c in chunks) == 3


@pytest.mark.parametrize("block_bytes", [64, 1 << 20])
def test_a_quote_left_open_to_the_end_of_a_big_file_swallows_nothing(tmp_path, block_bytes):
    """The record it opens passes the bound (16 MiB; 4,096 bytes here): its lines are read alone,
    the line with the stray quote is unread, and every line after it is a record of its own, a
    long one unread too."""
    rows = [b"e%d,ok\n" % i for i in range(2000)]
    rows[1500] = b"e1500," + b"x" * 5000 + b"\n"
    chunks = _big(tmp_path / "access_log.csv", rows[:10] + [b'e,"stray\n'] + rows[10:], bound=4096,
                  block_bytes=block_bytes)
    unread = [(u.line, u.reason) for c in chunks for u in c.unread]
    assert unread == [(12, "a quote opened on this line is not closed on it"),
                      (1503, "line longer than 4,096 bytes: not read")]
    lines = [int(line) for c in chunks for line in c.lines]
    assert lines == [n for n in range(2, 2 + len(rows) + 1) if n not in (12, 1503)]
    assert sum(c.line_count for c in chunks) == len(rows) + 1

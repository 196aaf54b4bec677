"""CsvTable reads what Python's csv module reads, record for record and line for line, whichever of
its two readers (Arrow's, a block at a time, or the csv module's) takes each part of the file, and
wherever the blocks are cut."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.ingest.csv_tables import CsvTable

VALUES = ["a", "", "x y", "é", " s ", "a,b", 'said "now"', "l1\nl2", "l1\r\nl2", "\r", 'x"y', '"un', "z" * 40]


def reference(text: str) -> list[tuple[int, list[str]]]:
    """(physical line, fields) of each record after the header, as the csv module reads the file."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    out, before = [], reader.line_num
    for record in reader:
        if record:  # a blank line holds no record
            out.append((before + 1, record))
        before = reader.line_num
    return out


def read(path, text: str, block_bytes: int) -> list[tuple[int, list[str]]]:
    path.write_bytes(text.encode("utf-8"))
    out = []
    for chunk in CsvTable(path, ()).chunks(block_bytes=block_bytes):
        for i in range(len(chunk)):
            fields = (chunk.records[i] if chunk.records is not None
                      else [column[i].as_py() for column in chunk.table.columns])
            out.append((int(chunk.lines[i]), fields))
    return out


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
    assert read(path, text, block_bytes) == reference(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=list('ab,"\n\r x'), max_size=60), st.sampled_from([1, 3, 100]))
def test_any_text_at_all(tmp_path_factory, body, block_bytes):
    text = "h1,h2,h3\n" + body
    path = tmp_path_factory.mktemp("csv") / "access_log.csv"
    try:
        expected = reference(text)
    except csv.Error:
        return
    assert read(path, text, block_bytes) == expected


def test_a_well_formed_file_is_read_by_arrow_a_block_at_a_time(tmp_path):
    text = "event_id,reason\n" + "".join(f'e{i},"note, {i}"\n' for i in range(1000))
    path = tmp_path / "access_log.csv"
    path.write_text(text, encoding="utf-8")
    chunks = list(CsvTable(path, ("event_id", "reason")).chunks(block_bytes=4096))
    assert len(chunks) > 1 and all(c.records is None for c in chunks)  # no block fell back to the csv module
    assert [int(line) for c in chunks for line in c.lines] == list(range(2, 1002))
    assert chunks[-1].table["reason"][-1].as_py() == "note, 999"


def test_a_record_the_csv_module_cannot_read_is_one_error_naming_its_line(tmp_path):
    import pytest

    from auditor.errors import InputError

    path = tmp_path / "access_log.csv"
    rows = "".join(f"e{i},x\n" for i in range(3000))
    # the blank line sends the last block to the csv module, which refuses a field over its limit
    path.write_text("event_id,reason\n" + rows + '\ne3000,"' + "y" * 500 + '"\n', encoding="utf-8")
    limit = csv.field_size_limit(100)
    try:
        with pytest.raises(InputError, match=r"access_log.csv: not readable CSV near line 3003 \("):
            list(CsvTable(path, ("event_id", "reason")).chunks(block_bytes=4096))
    finally:
        csv.field_size_limit(limit)

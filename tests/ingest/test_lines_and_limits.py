"""Every physical line of an interchange file accounted for (loaded + already present + rejected +
continuing + blank = lines), rows over several lines read line by line when malformed, and every
column's size limit checked before a value is typed, hashed or appended."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.ingest.csv_source import KEPT_CHARACTERS
from auditor.ingest.csv_tables import CsvTable
from auditor.ingest.ehr_import import ingest_directory
from auditor.ingest.interchange_files import ACCESS_LOG, FILES, Column, InterchangeFile, checked_chunks
from tests.ingest import interchange_data as data
from tests.ingest.test_csv_tables import files, reference
from tests.ingest.test_interchange import NEW_YORK, bad_export, ehr_events

def physical_lines(path) -> int:
    """Lines after the header as the csv module counts them (an independent count)."""
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline=""))
    header = next(reader) and reader.line_num
    for _ in reader:
        pass
    return reader.line_num - header


def write_log(folder, text: str):
    """The small export with access_log.csv replaced by `text` (after its header)."""
    data.write_export(folder)
    (folder / "access_log.csv").write_text(",".join(ACCESS_LOG.names) + "\n" + text, encoding="utf-8", newline="")
    return folder


def line(event_id: str, reason: str = "", workstation: str = "WS-1", action: str = "view", mrn: str = "MRN-1") -> str:
    return f"{event_id},2026-11-01T08:00:00,dr.zoe,{mrn},{action},note,,TREAT,false,{reason},{workstation}\n"


@pytest.mark.parametrize("folder", ["good", "bad"])
def test_every_physical_line_is_accounted_for(vault, tmp_path, folder):
    export = data.write_export(tmp_path / folder) if folder == "good" else bad_export(tmp_path / folder)
    data.write_version2(export)  # the optional files of contract version 2 too
    with (export / "access_log.csv").open("a", encoding="utf-8") as f:
        f.write("\n" + line("z1", '"two\nlines"') + "\n")
    summary = ingest_directory(vault.gateway, export, NEW_YORK)
    for spec in FILES:
        count = summary.files[spec.name]
        assert count.lines == count.accounted == physical_lines(export / spec.name), spec.name
    log = summary.files["access_log.csv"]
    assert (log.blank, log.continuing) == (2, 2)  # a2's reason and z1's cover two lines each


def test_a_stray_quote_swallows_no_line(vault, tmp_path):
    """A quote at the start of a workstation made lines 2 to 759 one record, rejected as one row:
    the record is read again line by line; the line with the stray quote is rejected, the others load."""
    text = line("e1", workstation='"WS-1') + "".join(line(f"e{i}") for i in range(2, 6)) + line("e6", '"a, reason"')
    summary = ingest_directory(vault.gateway, write_log(tmp_path / "x", text), NEW_YORK)
    log = summary.files["access_log.csv"]
    assert (log.lines, log.loaded, log.rejected, log.continuing) == (6, 5, 1, 0)
    assert [(r.line, r.reason) for r in summary.rejected] == [(2, "a quote opened on this line is not closed on it")]
    assert json.loads(summary.rejected[0].raw_row) == {"line": line("e1", workstation='"WS-1').rstrip("\n")}
    assert sorted(ehr_events(vault)) == ["e2", "e3", "e4", "e5", "e6"]


def test_rows_inside_a_well_quoted_value_are_read_as_rows(vault, tmp_path):
    """A reason opened on one line and closed four lines later with the right number of fields is
    RFC 4180, yet the lines inside it read as rows of their own: they are rows, and load."""
    text = line("e1", '"begins') + line("e2") + line("e3") + 'ends",WS-9\n' + line("e4")
    summary = ingest_directory(vault.gateway, write_log(tmp_path / "x", text), NEW_YORK)
    assert sorted(ehr_events(vault)) == ["e2", "e3", "e4"]
    assert [(r.line, r.reason) for r in summary.rejected] == [
        (2, "a quote opened on this line is not closed on it"), (5, "expected 11 fields, found 2")]
    log = summary.files["access_log.csv"]
    assert (log.lines, log.loaded, log.rejected, log.continuing) == (5, 3, 2, 0)


def test_a_legitimate_value_over_lines_loads_as_one_record_counted_on_its_first_line(vault, tmp_path):
    text = line("e1", '"first line\r\nsecond, with a comma\nthird"') + line("e2")
    summary = ingest_directory(vault.gateway, write_log(tmp_path / "x", text), NEW_YORK)
    log = summary.files["access_log.csv"]
    assert (log.lines, log.loaded, log.rejected, log.continuing) == (4, 2, 0, 2)
    assert sorted(ehr_events(vault)) == ["e1", "e2"]


def test_a_well_formed_record_over_lines_that_is_rejected_is_quarantined_line_by_line(vault, tmp_path):
    """Rejected for what it says (an unknown action; an MRN the gateway finds no patient for), not
    for how it is quoted: quarantined whole on its first line, and each other line beside it."""
    text = line("e1", '"one\ntwo\nthree"', action="peek") + line("e2", '"four\nfive"', mrn="MRN-404") + line("e3")
    summary = ingest_directory(vault.gateway, write_log(tmp_path / "x", text), NEW_YORK)
    assert [(r.line, r.reason) for r in summary.rejected] == [
        (2, "unknown action"), (3, "inside the rejected record of line 2"), (4, "inside the rejected record of line 2"),
        (5, "mrn not among the patients"), (6, "inside the rejected record of line 5")]
    assert json.loads(summary.rejected[4].raw_row) == {"inside_record_of_line": 5, "line": 'five",WS-1'}
    log = summary.files["access_log.csv"]
    assert (log.lines, log.loaded, log.rejected, log.continuing) == (6, 1, 5, 0)


def test_a_line_break_in_an_identifier_is_read_line_by_line(vault, tmp_path):
    text = 'e1,2026-11-01T08:00:00,"dr.\nzoe",MRN-1,view,,,,,,\n' + line("e2")
    summary = ingest_directory(vault.gateway, write_log(tmp_path / "x", text), NEW_YORK)
    assert [(r.line, r.reason) for r in summary.rejected] == [
        (2, "a quote opened on this line is not closed on it"), (3, "expected 11 fields, found 9")]
    assert sorted(ehr_events(vault)) == ["e2"]


@pytest.mark.parametrize("blank", ["", "\n"])  # Arrow's reader, or (a blank line in the block) the csv module's
def test_a_value_over_its_column_limit_rejects_its_row_and_quarantine_keeps_it_cut(vault, tmp_path, blank):
    reason = "r" * 5000 + "é"
    text = line("e1") + blank + line("e2", reason) + line("e3", "x" * 4000) + line("e4", workstation="w" * 129)
    summary = ingest_directory(vault.gateway, write_log(tmp_path / "x", text), NEW_YORK)
    first = 2 + len(blank)
    assert [(r.line, r.reason) for r in summary.rejected] == [
        (first + 1, "reason longer than 4000 characters"), (first + 3, "workstation longer than 128 characters")]
    kept = json.loads(summary.rejected[0].raw_row)
    assert kept["fields"][9] == "r" * KEPT_CHARACTERS
    assert kept["cut"] == {"9": {"characters": 5001, "sha256": hashlib.sha256(reason.encode()).hexdigest()}}
    assert sorted(ehr_events(vault)) == ["e1", "e3"]


def test_a_long_value_read_ahead_by_a_child_is_rejected_the_same(vault, tmp_path):
    text = line("e1", '"a\nb"') + line("e2", "r" * 5000) + line("e3", '"c\nd"', mrn="MRN-404")
    here = ingest_directory(vault.gateway, write_log(tmp_path / "x", text), NEW_YORK, read_ahead=True)
    assert [(r.line, r.reason) for r in here.rejected] == [
        (4, "reason longer than 4000 characters"), (5, "mrn not among the patients"),
        (6, "inside the rejected record of line 5")]
    log = here.files["access_log.csv"]
    assert (log.lines, log.loaded, log.rejected, log.continuing) == (5, 1, 3, 1)


_SPEC = InterchangeFile("t.csv", (Column("h1", required=True), Column("h2", multiline=True), Column("h3")),
                        key=("h1",))


@settings(max_examples=300, deadline=None)
@given(files(), st.sampled_from([1, 7, 40, 1 << 20]), st.sampled_from([40, 4096]))
def test_each_line_is_in_a_good_row_or_rejected_or_blank_whatever_the_text(tmp_path_factory, text, block_bytes, bound):
    """Whatever the quoting (stray quotes, short and long rows, blank lines, values over lines), each
    physical line after the header lies in exactly one good row's lines, or is one quarantine entry,
    or is blank: nothing is swallowed, nothing counted twice."""
    _each_line_accounted_for(tmp_path_factory.mktemp("csv") / "t.csv", text, block_bytes, bound)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=list('ab,"\n\r x'), max_size=80), st.sampled_from([1, 3, 100]), st.sampled_from([12, 4096]))
def test_each_line_is_accounted_for_in_any_text_at_all(tmp_path_factory, body, block_bytes, bound):
    _each_line_accounted_for(tmp_path_factory.mktemp("csv") / "t.csv", "h1,h2,h3\n" + body, block_bytes, bound)


def _each_line_accounted_for(path, text: str, block_bytes: int, bound: int) -> None:
    path.write_bytes(text.encode("utf-8"))
    try:
        lines, seen, blank = reference(text)[1], [], 0
    except csv.Error:
        return
    for checked, good, rejected in checked_chunks(_Bounded(CsvTable(path, _SPEC.names), block_bytes, bound),
                                                  _SPEC, NEW_YORK):
        chunk = checked.chunk
        blank += chunk.blank
        for i in good.tolist():
            seen += range(int(chunk.lines[i]), int(chunk.lines[i] + chunk.covered[i]))
        seen += [e.line for e in rejected]
    assert len(seen) == len(set(seen)) and set(seen) <= set(range(2, 2 + lines))
    assert len(seen) + blank == lines


class _Bounded:
    """The table read in small blocks with a small bound (what a big file meets, in a small one)."""

    def __init__(self, table: CsvTable, block_bytes: int, bound: int) -> None:
        self.table, self.block_bytes, self.bound = table, block_bytes, bound
        self.header, self.name = table.header, table.name

    def chunks(self):
        return self.table.chunks(rows=3, block_bytes=self.block_bytes, bound=self.bound)

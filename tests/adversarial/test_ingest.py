"""Whoever writes the export (a careless one, or one who means to hide accesses) and whoever types
the command: no line of access_log.csv vanishes into another row, no value is big enough to stop an
ingest for good, and no second reading in another time zone adds treatment relationships."""

from __future__ import annotations

import re
import sqlite3

import pytest

from auditor.ingest.interchange_files import ACCESS_LOG
from tests.ingest import interchange_data as data

HEADER = ",".join(ACCESS_LOG.names) + "\n"


@pytest.fixture
def home(auditor):
    assert auditor("init").code == 0


def row(event_id: str, reason: str = "", workstation: str = "WS-1") -> str:
    return f"{event_id},2026-11-01T08:00:00,dr.zoe,MRN-1,view,note,,TREAT,false,{reason},{workstation}\n"


def export(tmp_path, body: str):
    folder = data.write_export(tmp_path / "export")
    (folder / "access_log.csv").write_text(HEADER + body, encoding="utf-8", newline="")
    return folder


def loaded_event_ids(tmp_path) -> list[str]:
    with sqlite3.connect(tmp_path / "home" / "records.db") as con:
        return sorted(i for (i,) in con.execute("select source_event_id from audit_imported_keys"))


def counts(out: str) -> tuple[int, ...]:
    found = re.search(r"^access_log.csv: (\d+) lines: (\d+) loaded, (\d+) already present, (\d+) rejected", out, re.M)
    return tuple(int(n) for n in found.groups())


def test_accesses_hidden_inside_a_well_quoted_reason_are_audited(auditor, home, tmp_path):
    """A reason opened on one line and closed on a later one with exactly the fields a row needs is
    valid RFC 4180: read as one event, the accesses written on the lines between were never audited.
    Lines that read as rows of their own are rows."""
    body = row("v1", '"routine') + row("hidden-1") + row("hidden-2") + 'done",WS-9\n' + row("v2")
    result = auditor("ingest", str(export(tmp_path, body)), "--tz", "America/New_York")
    assert result.code == 0, result.err
    assert loaded_event_ids(tmp_path) == ["hidden-1", "hidden-2", "v2"]
    assert counts(result.out) == (5, 3, 0, 2)
    assert "rejected access_log.csv:2: a quote opened on this line is not closed on it" in result.out


def test_a_quote_never_closed_hides_nothing_after_it(auditor, home, tmp_path):
    body = row("q1", workstation='"WS-1') + "".join(row(f"e{i}") for i in range(40))
    result = auditor("ingest", str(export(tmp_path, body)), "--tz", "America/New_York")
    assert result.code == 0, result.err
    assert len(loaded_event_ids(tmp_path)) == 40
    assert counts(result.out) == (41, 40, 0, 1)


def test_a_field_over_16_mib_read_by_the_csv_module_stops_nothing(auditor, home, tmp_path):
    """With a blank line after it the block goes to the csv module, whose field_size_limit made the
    file "not readable CSV" (exit 2, on every rerun); the line is quarantined instead."""
    body = row("e1") + row("e2", "y" * (17 << 20)) + "\n" + row("e3")
    folder = export(tmp_path, body)
    for run in range(2):
        result = auditor("ingest", str(folder), "--tz", "America/New_York")
        assert result.code == 0, result.err
        assert "access_log.csv:3: line longer than 16 MiB: not read" in result.out
        assert counts(result.out) == (4, 2 - 2 * run, 2 * run, 1)
    assert loaded_event_ids(tmp_path) == ["e1", "e3"]


def test_a_100_kb_reason_is_rejected_before_it_is_sealed_into_the_log(auditor, home, tmp_path):
    result = auditor("ingest", str(export(tmp_path, row("e1", "z" * 100_000) + row("e2"))), "--tz", "UTC")
    assert result.code == 0, result.err
    assert "rejected access_log.csv:2: reason longer than 4000 characters" in result.out
    assert loaded_event_ids(tmp_path) == ["e2"]


def test_reading_the_export_again_in_another_zone_adds_no_treatment_relationship(auditor, home, tmp_path):
    """Each care-team row read in a second zone was a second membership with other times, widening
    the windows that explain accesses: refused without --change-timezone, and a no-op with it."""
    folder = data.write_export(tmp_path / "x")
    assert auditor("ingest", str(folder), "--tz", "America/New_York").code == 0
    refused = auditor("ingest", str(folder), "--tz", "Pacific/Kiritimati")
    assert refused.code == 2 and "--change-timezone" in refused.err
    assert auditor("ingest", str(folder), "--tz", "Pacific/Kiritimati", "--change-timezone").code == 0
    with sqlite3.connect(tmp_path / "home" / "records.db") as con:
        assert con.execute("select count(*) from care_team").fetchone() == (1,)

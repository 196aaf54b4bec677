"""`auditor ingest DIR --tz ZONE` and `auditor ingest --rejected` through the command line."""

from __future__ import annotations

import re
import sqlite3

import pytest

from tests.ingest import interchange_data as data
from tests.ingest.test_interchange import bad_export


def one_line_error(result, code: int = 2) -> str:
    assert result.code == code, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("auditor: "), result.err
    return lines[0]


@pytest.fixture
def home(auditor):
    assert auditor("init").code == 0


def test_ingest_reports_counts_and_a_rerun_adds_nothing(auditor, home, tmp_path):
    folder = data.write_export(tmp_path / "export")
    first = auditor("ingest", str(folder), "--tz", "America/New_York")
    assert first.code == 0, first.err
    assert "organisation time zone: America/New_York (stored)" in first.out
    # a2's reason holds a line break: its record covers lines 3 and 4
    assert ("access_log.csv: 5 lines: 4 loaded, 0 already present, 0 rejected, 1 continuing a record begun on "
            "an earlier line" in first.out)
    assert "rows/second" in first.out and "1 access events by accounts not in the workforce" in first.out
    again = auditor("ingest", str(folder))  # the stored zone is used
    assert again.code == 0, again.err
    assert "organisation time zone: America/New_York (stored)" in again.out
    for name, rows in (("patients.csv", 3), ("workforce.csv", 3), ("encounters.csv", 2), ("care_team.csv", 1),
                       ("access_log.csv", 4)):
        lines = rows + (name == "access_log.csv")
        assert f"{name}: {lines} lines: 0 loaded, {rows} already present, 0 rejected" in again.out
    assert auditor("audit", "verify").code == 0


def test_rejected_rows_are_reported_listed_and_exit_zero(auditor, home, tmp_path):
    result = auditor("ingest", str(bad_export(tmp_path / "bad")), "--tz", "America/New_York", "--source", "epic")
    assert result.code == 0, result.err
    assert "rejected patients.csv:6: bad birth_date (not YYYY-MM-DD)" in result.out
    assert "auditor ingest --rejected" in result.out
    listed = auditor("ingest", "--rejected")
    assert listed.code == 0
    assert "access_log.csv:18: expected 11 fields, found 12" in listed.out and "source epic, ingest run 1" in listed.out
    assert f"{31} rows in quarantine" in listed.out
    assert "0 rows in quarantine" in auditor("ingest", "--rejected", "--source", "ehr").out
    for secret in data.PLAINTEXT + ["1970-02-30", "MRN-404"]:
        assert secret not in result.out + result.err + listed.out


def test_unknown_columns_warn(auditor, home, tmp_path):
    rows = [dict(r, badge_colour="teal") for r in data.WORKFORCE]
    result = auditor("ingest", str(data.write_export(tmp_path / "x", workforce=rows)), "--tz", "UTC")
    assert result.code == 0 and "warning: workforce.csv: unknown column(s) badge_colour ignored" in result.err


def _care_team_rows(tmp_path) -> list[tuple]:
    with sqlite3.connect(tmp_path / "home" / "records.db") as con:
        return con.execute("select patient_id, workforce_id, start, source, source_start from care_team").fetchall()


def test_another_time_zone_on_a_vault_with_data_is_refused_without_the_flag(auditor, home, tmp_path):
    """The same export under another --tz gave each care-team row a second start (605 rows became
    1,210): a vault that holds data changes its zone only when asked, and a refusal loads nothing."""
    folder = data.write_export(tmp_path / "x")
    assert auditor("ingest", str(folder), "--tz", "America/New_York").code == 0
    before = _care_team_rows(tmp_path)
    line = one_line_error(auditor("ingest", str(folder), "--tz", "America/Chicago"))
    assert "time zone is America/New_York" in line and "--change-timezone" in line and "nothing was loaded" in line
    assert _care_team_rows(tmp_path) == before
    again = auditor("ingest", str(folder))
    assert "organisation time zone: America/New_York (stored)" in again.out
    assert "ingest run 2 " in again.out  # the refused run was never started
    assert "--tz" in one_line_error(auditor("ingest", str(folder), "--change-timezone"))


def test_changing_the_time_zone_duplicates_nothing(auditor, home, tmp_path):
    folder = data.write_export(tmp_path / "x")
    assert auditor("ingest", str(folder), "--tz", "America/New_York").code == 0
    before = _care_team_rows(tmp_path)
    assert [row[3:] for row in before] == [("ehr", "2026-10-28T22:00:00")]  # keyed as the file writes it
    result = auditor("ingest", str(folder), "--tz", "America/Chicago", "--change-timezone")
    assert result.code == 0, result.err
    assert "America/Chicago (changed from America/New_York; rows already loaded keep" in result.out
    for name in ("patients.csv", "workforce.csv", "encounters.csv", "care_team.csv", "access_log.csv"):
        assert re.search(rf"^{name}: \d+ lines: 0 loaded, \d+ already present, 0 rejected", result.out, re.M), result.out
    assert _care_team_rows(tmp_path) == before
    assert auditor("ingest", str(folder), "--tz", "Europe/Paris", "--change-timezone").code == 0
    assert _care_team_rows(tmp_path) == before
    assert auditor("audit", "verify").code == 0


def test_without_a_stored_time_zone_ingest_needs_tz(auditor, home, tmp_path):
    line = one_line_error(auditor("ingest", str(data.write_export(tmp_path / "x"))))
    assert "no organisation time zone is stored" in line and "--tz" in line


@pytest.mark.parametrize("args,message", [
    (("ingest", "{tmp}/nowhere", "--tz", "UTC"), "is not a directory"),
    (("ingest", "{export_without_patients}", "--tz", "UTC"), "missing patients.csv"),
    (("ingest", "{export}", "--tz", "Mars/Olympus"), "unknown time zone"),
    (("ingest",), "give the export to load"),
    (("ingest", "{export}", "--format", "hl7v2", "--tz", "UTC"), "--format 'hl7v2' is not a format"),
    (("ingest", "{export}", "--format", "fhir", "--tz", "UTC"), "holds no FHIR file"),
    (("ingest", "{tmp}/nowhere.ndjson", "--format", "fhir", "--tz", "UTC"), "is not a file or a folder"),
])
def test_input_errors_are_one_line_exit_2(auditor, home, tmp_path, args, message):
    paths = {"tmp": tmp_path, "export": data.write_export(tmp_path / "export"),
             "export_without_patients": data.write_export(tmp_path / "partial", patients=None)}
    assert message in one_line_error(auditor(*(a.format(**paths) for a in args)))


def _simulated(auditor, tmp_path) -> tuple:
    folder = tmp_path / "export"
    assert auditor("simulate", "--out", str(folder), "--seed", "1", "--events", "3000").code == 0
    path = folder / "access_log.csv"
    return folder, path, path.read_text(encoding="utf-8").split("\n")


def _access_counts(out: str) -> tuple[int, ...]:
    found = re.search(r"^access_log.csv: (\d+) lines: (\d+) loaded, (\d+) already present, (\d+) rejected", out, re.M)
    return tuple(int(n) for n in found.groups())


def test_a_stray_quote_in_a_workstation_swallows_no_line(auditor, home, tmp_path):
    """A quote at the start of one workstation field made the lines after it one record ("2471
    loaded, 1 rejected", events absent, no word of it): that line alone is rejected, every other
    line loads, and the summary accounts for each one."""
    folder, path, lines = _simulated(auditor, tmp_path)
    stray = lines[1].rsplit(",", 1)
    lines[1] = f'{stray[0]},"{stray[1]}'
    path.write_text("\n".join(lines), encoding="utf-8")
    data_lines = len(lines) - 2  # after the header; the file ends with a line feed
    result = auditor("ingest", str(folder), "--tz", "America/New_York")
    assert result.code == 0, result.err
    with sqlite3.connect(tmp_path / "home" / "records.db") as con:
        assert con.execute("select count(*) from audit_imported_keys").fetchone() == (data_lines - 1,)
    assert "rejected access_log.csv:2: a quote opened on this line is not closed on it" in result.out
    assert _access_counts(result.out) == (data_lines, data_lines - 1, 0, 1)
    path.write_text("\n".join(lines[:1] + [lines[1].replace('"', "")] + lines[2:]), encoding="utf-8")
    fixed = auditor("ingest", str(folder))
    assert _access_counts(fixed.out) == (data_lines, 1, data_lines - 1, 0)  # only the line that was rejected was missing


def test_a_20_mb_field_quarantines_its_line_and_a_rerun_works(auditor, home, tmp_path):
    """A 20 MB reason made the next ingest and every rerun fail (a 27 GB allocation, two events
    committed): its line is quarantined (line, reason, start, length and SHA-256), the rest loads."""
    folder, path, lines = _simulated(auditor, tmp_path)
    fields = lines[5].split(",")
    fields[9] = "x" * 20_000_000
    lines[5] = ",".join(fields)
    path.write_text("\n".join(lines), encoding="utf-8")
    data_lines = len(lines) - 2
    for run in range(2):
        result = auditor("ingest", str(folder), "--tz", "America/New_York")
        assert result.code == 0, result.err
        assert _access_counts(result.out) == (data_lines, (data_lines - 1) * (1 - run), (data_lines - 1) * run, 1)
        assert "rejected access_log.csv:6: line longer than 16 MiB: not read" in result.out
        assert f"1 line rejected ({1 - run} newly quarantined)" in result.out
    assert "access_log.csv:6: line longer than 16 MiB: not read" in auditor("ingest", "--rejected").out
    assert auditor("audit", "verify").code == 0

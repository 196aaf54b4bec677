"""`auditor ingest`: reading the interchange CSVs, quarantine, time zones and daylight saving, unknown
accounts, and no plaintext PHI at rest (reruns: test_reruns.py)."""

from __future__ import annotations

import hashlib
import re
from types import SimpleNamespace
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import func, select

from auditor.audit.blocks import event_count, stored_events
from auditor.audit.events import CANONICAL_COLUMNS, to_microseconds
from auditor.audit.verify import verify_log
from auditor.errors import InputError
from auditor.ingest import values
from auditor.ingest.csv_tables import CsvTable
from auditor.ingest.ehr_import import ingest_directory
from auditor.ingest.interchange_records import row_hashes
from auditor.ingest.quarantine import rejections
from auditor.vault.records import CareTeamMember, Encounter, Patient, QuarantinedRow, VaultSetting, WorkforceMember
from auditor.vault.settings import organisation_timezone, set_organisation_timezone, time_zone
from tests.ingest import interchange_data as data

NEW_YORK = ZoneInfo("America/New_York")


def utc(*args) -> int:
    return to_microseconds(datetime(*args, tzinfo=timezone.utc))


def count(vault, model) -> int:
    with vault.records.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


def ehr_events(vault, source: str = "ehr") -> dict[str, SimpleNamespace]:
    """The imported events of `source` by event id, whichever storage holds them (ingest writes blocks)."""
    with vault.records.connect() as conn:
        events = [SimpleNamespace(**dict(zip(CANONICAL_COLUMNS, e.row))) for e in stored_events(conn)]
    return {e.source_event_id: e for e in events if e.source == source}


def everything(vault) -> tuple[int, ...]:
    with vault.records.connect() as conn:
        events = event_count(conn)[0]
    return (*(count(vault, m) for m in (Patient, WorkforceMember, Encounter, CareTeamMember)), events,
            count(vault, QuarantinedRow))


# -- loading --------------------------------------------------------------------------------------------------
def test_good_export_loads_everything_through_the_gateway(vault, tmp_path):
    summary = ingest_directory(vault.gateway, data.write_export(tmp_path / "export"), NEW_YORK)
    loaded = {name: (c.rows, c.loaded, c.already_present, c.rejected) for name, c in summary.files.items()}
    assert loaded == {"patients.csv": (3, 3, 0, 0), "workforce.csv": (3, 3, 0, 0), "encounters.csv": (2, 2, 0, 0),
                      "care_team.csv": (1, 1, 0, 0), "access_log.csv": (4, 4, 0, 0)}
    assert summary.rejected == [] and summary.unknown_accounts == 1
    with vault.records.connect() as conn:
        members = {r.user_id: r for r in conn.execute(select(WorkforceMember))}
        patients = conn.execute(select(Patient.id, Patient.vip, Patient.restricted, Patient.deceased_on,
                                       Patient.name_dob_bidx)).all()
    assert members["dr.zoe"].role == "physician" and (members["dr.zoe"].shift_start, members["dr.zoe"].shift_end) == ("07:00", "19:00")
    assert members["n.anouk"].patient_id is not None and members["n.anouk"].termination_date.isoformat() == "2026-12-31"
    assert members["dr.zoe"].department == "Cardiology"  # trimmed
    assert sorted((p.vip, p.restricted, str(p.deceased_on)) for p in patients) == [
        (False, False, "2026-10-01"), (False, True, "None"), (True, False, "None")]
    # a workforce member who is also a patient carries the same name + birth date index as her chart
    assert members["n.anouk"].name_dob_bidx in {p.name_dob_bidx for p in patients}
    assert verify_log(vault.records, vault.keyring, [vault.checkpoints.path]).ok


def test_access_events_carry_what_the_row_said(vault, tmp_path):
    ingest_directory(vault.gateway, data.write_export(tmp_path / "export"), NEW_YORK)
    events = ehr_events(vault)
    a1, a2, a3, a4 = (events[k] for k in ("a1", "a2", "a3", "a4"))
    assert (a1.user_id, a1.role, a1.action, a1.record_type, a1.purpose, a1.outcome, a1.workstation) == (
        "dr.zoe", "physician", "view", "note", "TREAT", "success", "WS-7")
    assert a1.patient_id is not None and not a1.break_glass and a1.reason is None
    assert a2.break_glass and a2.reason is not None and b"urgent" not in bytes(a2.reason)  # sealed by the log
    assert (a3.user_id, a3.role, a3.action) == ("ghost.account", None, "export")  # unknown account: kept
    assert (a4.action, a4.patient_id, a4.outcome) == ("login_failed", None, "denied")
    raw = "a1,2026-11-01T01:30:00,dr.zoe,MRN-1,view,note,,treat,false,,WS-7"
    assert bytes(a1.source_row_hash) == hashlib.sha256(raw.encode()).digest()


# -- time zones and daylight saving -------------------------------------------------------------------------
def test_daylight_saving_and_explicit_offsets(vault, tmp_path):
    ingest_directory(vault.gateway, data.write_export(tmp_path / "export"), NEW_YORK)
    events = ehr_events(vault)
    assert events["a1"].at_us == utc(2026, 11, 1, 5, 30)  # fall back: the first 01:30 (EDT, -4)
    assert events["a2"].at_us == utc(2026, 3, 8, 7, 30)  # spring-forward gap: read with EST (-5)
    assert events["a3"].at_us == utc(2026, 11, 1, 6, 30)  # the second 01:30, given with its offset
    assert events["a4"].at_us == utc(2026, 11, 1, 12, 0)  # Z
    with vault.records.connect() as conn:
        e2 = conn.execute(select(Encounter.start, Encounter.end).where(Encounter.source_id == "E2")).one()
    assert (e2.start, e2.end) == (datetime(2026, 10, 29, 2, tzinfo=timezone.utc), datetime(2026, 11, 3, 15, tzinfo=timezone.utc))


def test_the_same_local_time_moves_with_the_zone(vault, tmp_path):
    rows = [dict(data.ACCESS_LOG[0], event_id="t1", timestamp="2026-07-01T12:00:00")]
    ingest_directory(vault.gateway, data.write_export(tmp_path / "a", access_log=rows), ZoneInfo("Europe/Paris"),
                     source="paris")
    at = ehr_events(vault, "paris")["t1"].at_us
    assert at == utc(2026, 7, 1, 10, 0)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(2026, 3, 7), max_value=datetime(2026, 11, 2)),
       st.sampled_from(["America/New_York", "Europe/London", "Australia/Lord_Howe", "UTC"]),
       st.sampled_from(["", "Z", "+05:30", "-0800", "+01"]), st.sampled_from(["T", " "]))
def test_vectorised_timestamps_match_the_one_at_a_time_reading(at, zone_name, offset, sep):
    zone = ZoneInfo(zone_name)
    text = at.isoformat(sep=sep) + offset
    micros, bad = values.timestamps(pd.Series([text, text[:16], "2026-02-30T01:00"]), zone)
    expected = values.local_to_utc(text, zone)
    assert not bad[0] and micros[0] == to_microseconds(expected)
    assert bool(bad[1]) == (values.local_to_utc(text[:16], zone) is None)
    assert bad[2]


def test_gaps_and_folds_follow_rfc_5545():
    micros, bad = values.timestamps(pd.Series(["2026-03-08T02:00:00", "2026-03-08T02:59:59", "2026-11-01T01:00:00",
                                               "2026-11-01T01:59:59", "2026-11-01T02:00:00"]), NEW_YORK)
    assert not bad.any()
    assert list(micros) == [utc(2026, 3, 8, 7), utc(2026, 3, 8, 7, 59, 59), utc(2026, 11, 1, 5),
                            utc(2026, 11, 1, 5, 59, 59), utc(2026, 11, 1, 7)]


@pytest.mark.parametrize("text", ["2026-11-01T1:30", "2026/11/01", "20261101T013000", "2026-11-01T25:00",
                                  "2026-11-01T01:30+5", "1850-01-01T00:00", "x", "2026-11-01T01:30:00 EST"])
def test_unreadable_timestamps(text):
    assert values.timestamps(pd.Series([text]), NEW_YORK)[1][0]


# -- values ---------------------------------------------------------------------------------------------------
def _spellings(word: str):
    return st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in word)).map("".join)


@given(st.one_of(*(_spellings(w).map(lambda s, w=w: (s, w)) for w in ("true", "false", "yes", "no")),
                 st.sampled_from([("1", "1"), ("0", "0")])))
def test_booleans_in_every_spelling(case):
    text, word = case
    flags, bad = values.booleans(pd.Series([text, ""]))
    assert not bad.any() and flags[0].as_py() == (word in ("true", "yes", "1")) and flags[1].as_py() is None


@given(st.text(min_size=1).filter(lambda s: s.casefold() not in {"true", "false", "yes", "no", "1", "0"}))
def test_anything_else_is_not_a_boolean(text):
    assert values.booleans(pd.Series([text]))[1][0]


def test_row_hash_ignores_column_order_and_unknown_columns():
    row = {"event_id": "a,1", "timestamp": "2026-11-01T01:30", "user_id": "u", "mrn": "M", "action": "view",
           "reason": 'said "now"'}
    first = pa.Table.from_pylist([row])
    second = pa.Table.from_pylist([{"zzz": "extra", **dict(reversed(list(row.items())))}])
    expected = '"a,1",2026-11-01T01:30,u,M,view,,,,,"said ""now""",'
    assert row_hashes(first) == row_hashes(second) == [hashlib.sha256(expected.encode()).digest()]


# -- rejected rows ---------------------------------------------------------------------------------------------
BAD = {
    "workforce": [dict(user_id="", role="nurse"), dict(user_id="w.role", role="wizard"),
                  dict(user_id="w.hire", role="nurse", hire_date="2020-13-01"),
                  dict(user_id="w.shift", role="nurse", shift_start="25:00", shift_end="07:00"),
                  dict(user_id="w.half", role="nurse", shift_start="07:00"),
                  dict(user_id="dr.zoe", role="nurse"), dict(user_id="w" * 129, role="nurse")],
    "patients": [dict(mrn=""), dict(mrn="P-dob", birth_date="1970-02-30"), dict(mrn="P-vip", vip="maybe"),
                 dict(mrn="MRN-1"), dict(mrn="P-death", death_date="04/05/2020")],
    "encounters": [dict(encounter_id="E3", mrn="MRN-404", start="2026-10-01T08:00"),
                   dict(encounter_id="E4", mrn="MRN-1", type="spa", start="2026-10-01T08:00"),
                   dict(encounter_id="E5", mrn="MRN-1", start=""),
                   dict(encounter_id="E6", mrn="MRN-1", start="2026-10-02T08:00", end="2026-10-01T08:00"),
                   dict(encounter_id="E1", mrn="MRN-1", start="2026-10-01T08:00")],
    "care_team": [dict(mrn="MRN-1", user_id="nobody", start="2026-10-01T08:00"),
                  dict(mrn="MRN-1", user_id="dr.zoe", start="yesterday")],
    "access_log": [dict(event_id="", timestamp="2026-11-01T08:00", user_id="u", mrn="MRN-1", action="view"),
                   dict(event_id="b2", timestamp="2026-11-31T08:00", user_id="u", mrn="MRN-1", action="view"),
                   dict(event_id="b3", timestamp="2026-11-01T08:00", user_id="u", mrn="MRN-1", action="peek"),
                   dict(event_id="b4", timestamp="2026-11-01T08:00", user_id="u", mrn="MRN-1", action="view",
                        record_type="diary"),
                   dict(event_id="b5", timestamp="2026-11-01T08:00", user_id="u", mrn="MRN-1", action="view",
                        outcome="maybe"),
                   dict(event_id="b6", timestamp="2026-11-01T08:00", user_id="u", mrn="MRN-1", action="view",
                        break_glass="si"),
                   dict(event_id="b7", timestamp="2026-11-01T08:00", user_id="u", mrn="", action="view"),
                   dict(event_id="b8", timestamp="2026-11-01T08:00", user_id="u", mrn="MRN-404", action="print"),
                   dict(event_id="a1", timestamp="2026-11-01T08:00", user_id="u", mrn="MRN-1", action="view"),
                   dict(event_id="b9", timestamp="2026-11-01T08:00", user_id="", mrn="MRN-1", action="view"),
                   dict(event_id="b10", timestamp="2026-11-01T08:00", user_id="u", mrn="MRN-1", action="view",
                        purpose_of_use="X" * 17)],
}
EXPECTED = {
    ("workforce.csv", 5, "missing user_id"), ("workforce.csv", 6, "unknown role"),
    ("workforce.csv", 7, "bad hire_date (not YYYY-MM-DD)"), ("workforce.csv", 8, "bad shift_start (not HH:MM)"),
    ("workforce.csv", 9, "shift_start and shift_end go together"),
    ("workforce.csv", 10, "duplicate user_id (first on line 2)"),
    ("workforce.csv", 11, "user_id longer than 128 characters"),
    ("patients.csv", 5, "missing mrn"), ("patients.csv", 6, "bad birth_date (not YYYY-MM-DD)"),
    ("patients.csv", 7, "bad vip (not true/false, 1/0 or yes/no)"), ("patients.csv", 8, "duplicate mrn (first on line 2)"),
    ("patients.csv", 9, "bad death_date (not YYYY-MM-DD)"),
    ("encounters.csv", 4, "mrn not among the patients"), ("encounters.csv", 5, "unknown type"),
    ("encounters.csv", 6, "missing start"), ("encounters.csv", 7, "end before start"),
    ("encounters.csv", 8, "duplicate encounter_id (first on line 2)"),
    ("care_team.csv", 3, "user_id not in the workforce"), ("care_team.csv", 4, "bad start (not an ISO 8601 timestamp)"),
    ("access_log.csv", 7, "missing event_id"), ("access_log.csv", 8, "bad timestamp (not an ISO 8601 timestamp)"),
    ("access_log.csv", 9, "unknown action"), ("access_log.csv", 10, "unknown record_type"),
    ("access_log.csv", 11, "unknown outcome"), ("access_log.csv", 12, "bad break_glass (not true/false, 1/0 or yes/no)"),
    ("access_log.csv", 13, "missing mrn (required for action view)"), ("access_log.csv", 14, "mrn not among the patients"),
    ("access_log.csv", 15, "duplicate event_id (first on line 2)"), ("access_log.csv", 16, "missing user_id"),
    ("access_log.csv", 17, "purpose_of_use longer than 16 characters"),
    ("access_log.csv", 18, "expected 11 fields, found 12"),
}


def bad_export(folder):
    files = {name: getattr(data, name.upper()) + rows for name, rows in BAD.items()}
    data.write_export(folder, **files)
    with (folder / "access_log.csv").open("a", encoding="utf-8") as f:
        f.write("b11,2026-11-01T08:00,u,MRN-1,view,,,,,,,one too many\n")
    return folder


def test_every_unreadable_row_is_quarantined_with_file_line_and_reason(vault, tmp_path):
    summary = ingest_directory(vault.gateway, bad_export(tmp_path / "bad"), NEW_YORK)
    got = {(r.file, r.line, r.reason) for r in summary.rejected}
    assert got == EXPECTED
    assert {(r.file, r.line, r.reason) for r in rejections(vault.records)} == EXPECTED
    assert summary.files["access_log.csv"].loaded == 4  # the good rows still load
    for r in summary.rejected:  # reasons name columns, never values
        assert not any(v in r.reason for v in ("MRN-404", "1970-02-30", "maybe", "peek", "diary", "wizard", "si,",
                                               "04/05/2020", "nobody", "yesterday", "spa"))
    with vault.records.connect() as conn:
        sealed = conn.scalars(select(QuarantinedRow.raw_row)).all()
    assert all(s is not None and b"MRN-404" not in bytes(s) for s in sealed)


# -- files ----------------------------------------------------------------------------------------------------
def test_line_numbers_are_physical_lines(tmp_path):
    path = tmp_path / "access_log.csv"
    path.write_text('event_id,reason\n\na1,"two\r\nlines"\na2,"three\nmore\nlines"\n\na3,x\na4,x,extra\na5\n',
                    encoding="utf-8")
    table = CsvTable(path, ("event_id", "reason"))
    chunk = next(table.chunks())
    assert chunk.lines.tolist() == [3, 5, 9, 10, 11] and chunk.fields.tolist() == [2, 2, 2, 3, 1]
    assert chunk.table["reason"].to_pylist() == ["two\r\nlines", "three\nmore\nlines", "x", "x", ""]
    small = [c.lines.tolist() for c in table.chunks(rows=2)]
    assert small == [[3, 5], [9, 10], [11]]


def test_unknown_columns_are_ignored_with_a_warning(vault, tmp_path):
    rows = [dict(r, favourite_colour="teal") for r in data.PATIENTS]
    summary = ingest_directory(vault.gateway, data.write_export(tmp_path / "x", patients=rows), NEW_YORK)
    assert summary.warnings == ["patients.csv: unknown column(s) favourite_colour ignored"]
    assert summary.files["patients.csv"].loaded == 3


def test_optional_files_may_be_absent(vault, tmp_path):
    summary = ingest_directory(vault.gateway, data.write_export(tmp_path / "x", encounters=None, care_team=None),
                               NEW_YORK)
    assert set(summary.files) == {"patients.csv", "workforce.csv", "access_log.csv"}


@pytest.mark.parametrize("change,message", [
    ({"patients": None}, "missing patients.csv"),
    ({"access_log": [{"event_id": "a", "timestamp": "2026-11-01", "mrn": "", "action": "view"}]},
     "access_log.csv: missing column(s) user_id"),
])
def test_missing_files_and_columns_are_refused_before_anything_loads(vault, tmp_path, change, message):
    folder = data.write_export(tmp_path / "x", **change)
    with pytest.raises(InputError, match=re.escape(message)):
        ingest_directory(vault.gateway, folder, NEW_YORK)
    assert count(vault, Patient) == 0


def test_a_header_naming_a_column_twice_is_refused(tmp_path):
    (tmp_path / "patients.csv").write_text("mrn,MRN \nx,y\n")
    with pytest.raises(InputError, match="mrn appear more than once"):
        CsvTable(tmp_path / "patients.csv", ("mrn",))


def test_database_files_hold_no_names_addresses_or_phones(sqlite_vault, tmp_path):
    ingest_directory(sqlite_vault.gateway, bad_export(tmp_path / "x"), NEW_YORK)
    sqlite_vault.close()
    blobs = b"".join(p.read_bytes() for p in sqlite_vault.home.iterdir() if p.name.startswith(("records.db", "keystore.db")))
    assert len(blobs) > 10_000
    leaked = [v for v in data.PLAINTEXT + ["MRN-404", "1970-02-30"] if v.encode() in blobs]
    assert leaked == []


# -- the organisation's time zone ---------------------------------------------------------------------------
def test_organisation_timezone_is_kept_until_changed(vault):
    assert organisation_timezone(vault.records) is None
    assert set_organisation_timezone(vault.gateway, NEW_YORK) is None
    assert organisation_timezone(vault.records) == NEW_YORK
    assert set_organisation_timezone(vault.gateway, ZoneInfo("Europe/Paris")) == "America/New_York"
    with vault.records.connect() as conn:
        assert conn.scalar(select(VaultSetting.value).where(VaultSetting.name == "organisation_timezone")) == "Europe/Paris"


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", " America/New_York", "../etc/passwd"])
def test_unknown_time_zones_are_refused(name):
    with pytest.raises(InputError, match="unknown time zone"):
        time_zone(name)


def test_migration_r0002_upgrades_a_vault_made_before_ingest(tmp_path):
    from alembic import command
    from sqlalchemy import inspect

    from auditor import database

    engine = database.connect(f"sqlite:///{tmp_path / 'old.db'}", must_exist=False)
    command.upgrade(database._alembic_config("records", engine), "r0001")
    assert database.upgrade("records", engine) == ("r0001", database.head_revision("records"))
    assert {"ingest_runs", "quarantine"} <= set(inspect(engine).get_table_names())
    command.downgrade(database._alembic_config("records", engine), "r0001")
    assert "quarantine" not in inspect(engine).get_table_names()
    engine.dispose()


def test_the_whitespace_trimmed_is_what_str_strip_trims():
    import sys

    from auditor.ingest.interchange_files import _WHITESPACE

    assert sorted(_WHITESPACE) == [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]

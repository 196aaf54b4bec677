"""The columnar reader (Arrow through the ADBC SQLite driver) gives exactly the frames the DB-API
reader gives, including when a text column's first few thousand values are all NULL (the driver
infers a column's type from its first rows) and when a query finds no rows at all."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest

from auditor.audit.events import AuditEvent
from auditor.policy.columnar import read_frames, sqlite_file
from auditor.policy.frames import Period, _statements, concat_events, load_frames, typed_events
from auditor.vault.settings import organisation_timezone
from tests.policy.vault_data import populate

FRAMES = ("events", "workforce", "patients", "encounters", "care_team")


def _both(vault, period, **kw):
    return (load_frames(vault.records, period, **kw), load_frames(vault.records, period, columnar=False, **kw))


def _assert_same(columnar, rows):
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(columnar, name), getattr(rows, name), obj=name)


def _null_heavy_events(vault, count: int) -> None:
    """`count` vault events with no source event id, record type, purpose or patient, before any other."""
    start = datetime(2026, 11, 2, 0, tzinfo=timezone.utc)
    events = [AuditEvent(at=start + timedelta(seconds=i), action="login_failed", user_id=None, outcome="denied")
              for i in range(count)]
    with vault.records.begin() as conn:
        appended = vault.audit_log.append(conn, events)
    vault.audit_log.after_commit(appended, len(events))


def test_sqlite_vaults_are_read_as_columns(sqlite_vault):
    assert sqlite_file(sqlite_vault.records) is not None


def test_columnar_and_row_readers_agree(sqlite_vault, policy):
    _null_heavy_events(sqlite_vault, 3000)  # more NULL rows first than the driver looks at to infer types
    ids = populate(sqlite_vault)
    tz = organisation_timezone(sqlite_vault.records)
    period = Period(date(2026, 11, 1), date(2026, 11, 30), tz)
    columnar, rows = _both(sqlite_vault, period, lookback=policy.lookback())
    assert len(columnar.events) > 3004 and columnar.events["event_ref"].iloc[-1] == "ehr-4"
    assert columnar.events["user_id"].isna().sum() == 3000
    assert columnar.events["patient_id"].dropna().astype("int64").isin(list(ids.values())).all()  # 63-bit ids exact
    _assert_same(columnar, rows)
    one = ids["P-FAM"]
    _assert_same(*_both(sqlite_vault, period, patient_id=one))


@pytest.mark.parametrize("first", [date(2020, 1, 1), date(2026, 11, 2)])
def test_no_rows_reads_as_empty_typed_frames(sqlite_vault, first):
    populate(sqlite_vault)
    period = Period(first, first, organisation_timezone(sqlite_vault.records))
    columnar, rows = _both(sqlite_vault, period, patient_id=123456789)
    assert columnar.events.empty and columnar.encounters.empty
    _assert_same(columnar, rows)


def test_events_typed_in_chunks_are_the_same_month(sqlite_vault, policy):
    """A month read in many chunks (categories differing chunk to chunk) is the month read at once."""
    _null_heavy_events(sqlite_vault, 2500)
    populate(sqlite_vault)
    period = Period(date(2026, 11, 1), date(2026, 11, 30), organisation_timezone(sqlite_vault.records))
    stmt = _statements(period, policy.lookback(), timedelta(days=90), None)["events"]
    chunks = read_frames(sqlite_file(sqlite_vault.records), sqlite_vault.records, {"events": stmt},
                         {"events": typed_events}, chunk_rows=700)["events"]
    assert len(chunks) >= 4 and len({tuple(c["event_role"].cat.categories) for c in chunks}) > 1
    whole = load_frames(sqlite_vault.records, period, policy.lookback(), columnar=False).events
    pd.testing.assert_frame_equal(concat_events(chunks), whole)

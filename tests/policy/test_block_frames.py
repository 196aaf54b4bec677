"""The engine reads imported events stored in blocks exactly as it reads the same events stored as
rows: the same typed frame (in sequence order among the vault's own events), the same patient's
events for a patient report, and the same monthly access counts."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest

from auditor.audit.events import AuditEvent, ImportedEvents, to_microseconds
from auditor.home import create_home
from auditor.policy.frames import Period, load_frames
from auditor.policy.access_counts import accesses_by_period
from tests.conftest import FAST_SCRYPT

START = datetime(2026, 10, 20, tzinfo=timezone.utc)
N = 900


def _columns(offset: int) -> dict:
    at = [START + timedelta(minutes=53 * (i + offset)) for i in range(N)]  # 20 October to about 22 November
    return dict(
        at=at, source_event_id=[f"E{offset + i:06d}" for i in range(N)],
        source_row_hash=[bytes([i % 251]) * 32 for i in range(N)],
        user_id=[None if i % 97 == 0 else ("svc:import" if i % 89 == 0 else f"u{i % 7}") for i in range(N)],
        role=[None if i % 11 == 0 else ["nurse", "physician", "clerk"][i % 3] for i in range(N)],
        action=[["view", "print", "export", "login_failed"][i % 4] for i in range(N)],
        patient_id=[None if i % 4 == 3 else 2**62 + i % 13 for i in range(N)],
        record_type=[None if i % 4 == 3 else ["note", "lab"][i % 2] for i in range(N)],
        purpose=[None if i % 6 == 0 else "TREAT" for i in range(N)], break_glass=[i % 17 == 0 for i in range(N)],
        reason=["called in" if i % 17 == 0 else None for i in range(N)],
        outcome=["denied" if i % 4 == 3 else "success" for i in range(N)],
        workstation=[f"WS-{i % 5}" for i in range(N)])


def _as_rows(c: dict) -> list[AuditEvent]:
    return [AuditEvent(at=c["at"][i], action=c["action"][i], user_id=c["user_id"][i], outcome=c["outcome"][i],
                       role=c["role"][i], patient_id=c["patient_id"][i], record_type=c["record_type"][i],
                       purpose=c["purpose"][i], break_glass=c["break_glass"][i], reason=c["reason"][i],
                       workstation=c["workstation"][i], source="ehr", source_event_id=c["source_event_id"][i],
                       source_row_hash=c["source_row_hash"][i]) for i in range(N)]


def _as_block(c: dict) -> ImportedEvents:
    return ImportedEvents.of_columns(at_us=[to_microseconds(t) for t in c["at"]], source="ehr",
                                     **{k: v for k, v in c.items() if k != "at"})


def _own(tag: str) -> list[AuditEvent]:
    return [AuditEvent(at=START + timedelta(days=d), action="view", user_id="dr.house", role="physician",
                       patient_id=2**62 + 1, record_type="chart", workstation=tag) for d in range(0, 40, 3)]


@pytest.fixture
def two_vaults(tmp_path, clock):
    """The same log twice: the imported events once as rows, once as blocks, the vault's own between."""
    made = []
    for name, imported in (("rows", _as_rows), ("blocks", lambda c: [_as_block(c)])):
        v = create_home(tmp_path / name, clock=clock, scrypt_n=FAST_SCRYPT)
        for batch in (_own("a"), imported(_columns(0)), _own("b"), imported(_columns(N))):
            with v.records.begin() as conn:
                v.audit_log.append(conn, batch)
        made.append(v)
    yield made
    for v in made:
        v.close()


NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30), timezone.utc)


def test_blocks_give_the_frame_rows_give(two_vaults):
    as_rows, as_blocks = (load_frames(v.records, NOVEMBER, lookback=timedelta(days=7)).events for v in two_vaults)
    assert len(as_rows) > 500 and as_rows["seq"].is_monotonic_increasing
    assert as_rows["has_reason"].any() and as_rows["patient_id"].isna().any()
    pd.testing.assert_frame_equal(as_blocks, as_rows)


def test_a_patients_events_from_blocks(two_vaults):
    patient = 2**62 + 1
    as_rows, as_blocks = (load_frames(v.records, NOVEMBER, patient_id=patient).events for v in two_vaults)
    assert len(as_rows) > 20 and set(as_rows["patient_id"]) == {patient}
    pd.testing.assert_frame_equal(as_blocks, as_rows)


def test_monthly_access_counts_from_blocks(two_vaults, policy):
    months = [Period(date(2026, m, 1), date(2026, m, last), timezone.utc) for m, last in ((9, 30), (10, 31), (11, 30))]
    counted = [accesses_by_period(v.records, months, policy, v.keyring.log_mac_key) for v in two_vaults]
    assert counted[0][0] == 0 and counted[0][1] > 0 and counted[0][2] > 0
    assert counted[1] == counted[0]

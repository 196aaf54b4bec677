"""The engine over the Synthea population: a vault loaded with the sample, one day of audited chart
reads through the gateway, then the rules (load_policy, load_frames, engine.run, build_findings, as
`auditor findings` runs them).

Reads by each encounter's attending, by a nurse put on one patient's care team, and by a colleague
of the attending's department are explained (rules 1 to 3 of "Explained accesses"); a
health-information clerk opening a chart whose last encounter ended months ago is let in by the
gateway (HIM may read any chart for operations) but nothing explains it: no-treatment-relationship.
A physician of another department is refused: a denied read is not an access and is neither
explained nor flagged.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from auditor.clock import FixedClock
from auditor.errors import AccessDenied
from auditor.home import create_home
from auditor.ingest.synthea import import_synthea
from auditor.policy import engine
from auditor.policy.findings import build_findings
from auditor.policy.frames import Period, load_frames
from auditor.policy.rules import load_policy
from auditor.vault.gateway import AccessContext, CareTeamRecord, WorkforceRecord
from auditor.vault.gateway.directory import ReportDirectory
from auditor.vault.records import Encounter, Patient, WorkforceMember
from tests.conftest import FAST_SCRYPT, SYNTHEA

pytestmark = pytest.mark.skipif(not SYNTHEA.exists(), reason="../shared/data/synthea is not beside the checkout")
ATTENDED = 6  # charts opened by their attending on the day


def _recent_encounters(conn, read_at: datetime) -> list:
    """Encounters whose attending's read at `read_at` lies in [start - 7 days, end + 30 days], one per patient."""
    rows = conn.execute(select(Encounter.patient_id, Encounter.start, Encounter.end, WorkforceMember.user_id,
                               WorkforceMember.department)
                        .join(WorkforceMember, Encounter.attending_id == WorkforceMember.id)
                        .where(WorkforceMember.role == "physician")
                        .order_by(Encounter.start.desc(), Encounter.id).limit(200)).all()
    chosen, patients = [], set()
    for row in rows:
        inside = row.start - timedelta(days=7) <= read_at <= row.end + timedelta(days=30)
        if inside and row.patient_id not in patients:
            chosen.append(row)
            patients.add(row.patient_id)
    return chosen[:ATTENDED]


def _long_ago_patient(conn, read_at: datetime) -> int:
    """A living patient whose every encounter ended more than 120 days before `read_at` (past rule 4's 90)."""
    last = select(Encounter.patient_id, func.max(Encounter.end).label("last")).group_by(Encounter.patient_id).subquery()
    return conn.execute(select(Patient.id).join(last, last.c.patient_id == Patient.id)
                        .where(Patient.deceased_on.is_(None), last.c.last < read_at - timedelta(days=120))
                        .order_by(Patient.id).limit(1)).scalar_one()


def _colleague(conn, department: str, not_user: str) -> str:
    return conn.scalar(select(WorkforceMember.user_id).where(
        WorkforceMember.department == department, WorkforceMember.user_id != not_user,
        WorkforceMember.role.in_(["physician", "nurse"])).order_by(WorkforceMember.user_id).limit(1))


def _nurse(conn, department: str) -> str:
    return conn.scalar(select(WorkforceMember.user_id).where(
        WorkforceMember.department != department, WorkforceMember.role == "nurse").order_by(
        WorkforceMember.user_id).limit(1))


def _outsider(conn, department: str) -> str:
    return conn.scalar(select(WorkforceMember.user_id).where(
        WorkforceMember.department != department, WorkforceMember.role == "physician").order_by(
        WorkforceMember.user_id).limit(1))


@pytest.fixture(scope="module")
def audited_day(tmp_path_factory):
    clock = FixedClock(datetime(2026, 11, 2, 14, 0, tzinfo=timezone.utc))
    vault = create_home(tmp_path_factory.mktemp("synthea") / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    import_synthea(vault.gateway, SYNTHEA)
    with vault.records.connect() as conn:
        latest = conn.scalar(select(func.max(Encounter.start)).where(Encounter.attending_id.is_not(None)))
        read_at = (latest + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
        attended = _recent_encounters(conn, read_at)
        stranger = _long_ago_patient(conn, read_at)
        colleague = _colleague(conn, attended[0].department, attended[0].user_id)
        outsider = _outsider(conn, attended[0].department)
        nurse = _nurse(conn, attended[1].department)
    report = AccessContext.service("report")
    mrns = {pid: p.mrn for pid, p in vault.gateway.read_patients(
        report, [r.patient_id for r in attended] + [stranger]).items()}
    vault.gateway.register_workforce(AccessContext.service("import"), [WorkforceRecord(
        user_id="him.clerk", role="him", department="Health Information Management")])
    vault.gateway.add_care_team(AccessContext.service("import"), [CareTeamRecord(
        mrns[attended[1].patient_id], nurse, start=read_at - timedelta(days=1), role="nurse practitioner")])

    clock.at, clock.step = read_at, timedelta(minutes=1)
    for row in attended:
        vault.gateway.read_chart(AccessContext(row.user_id, "TREAT", workstation="WS-1"), mrns[row.patient_id])
    vault.gateway.read_chart(AccessContext(colleague, "TREAT"), mrns[attended[0].patient_id])
    vault.gateway.read_chart(AccessContext(nurse, "TREAT"), mrns[attended[1].patient_id])
    vault.gateway.read_chart(AccessContext("him.clerk", "HOPERAT"), mrns[stranger], documents=False)
    with pytest.raises(AccessDenied):
        vault.gateway.read_chart(AccessContext(outsider, "TREAT"), mrns[attended[0].patient_id])

    policy = load_policy()
    day = read_at.date()
    detection = engine.run(load_frames(vault.records, Period(day, day, ZoneInfo("UTC")), policy.lookback()), policy)
    findings = build_findings(detection, policy, ReportDirectory(vault.gateway))
    yield {"attended": attended, "colleague": colleague, "nurse": nurse, "outsider": outsider,
           "stranger_mrn": mrns[stranger], "detection": detection, "findings": findings}
    vault.close()


def test_the_day_has_the_reads_it_needs(audited_day):
    attended = audited_day["attended"]
    assert len(attended) == ATTENDED and len({r.patient_id for r in attended}) == ATTENDED
    assert audited_day["colleague"] and audited_day["outsider"] and audited_day["nurse"]


def test_treating_reads_are_explained_and_the_share_is_stated(audited_day):
    accesses = audited_day["detection"].context.accesses
    assert len(accesses) == ATTENDED + 3  # the refused read is no access
    by_user = accesses.groupby("user_id")["explained_by"].agg(lambda s: set(s.astype("string").fillna("none")))
    for row in audited_day["attended"]:
        assert "attending" in by_user[row.user_id]
    assert by_user[audited_day["colleague"]] == {"department"}
    assert by_user[audited_day["nurse"]] == {"care_team"}
    assert by_user["him.clerk"] == {"none"}
    assert audited_day["detection"].context.explained_share == pytest.approx((ATTENDED + 2) / (ATTENDED + 3))


def test_the_unrelated_clerk_is_the_only_finding(audited_day):
    found = [(f.rule, f.user_id, f.mrn, len(f.event_ids)) for f in audited_day["findings"]]
    assert found == [("no-treatment-relationship", "him.clerk", audited_day["stranger_mrn"], 1)]
    (finding,) = audited_day["findings"]
    assert finding.severity == "medium" and "no encounter, care-team or department link" in finding.explanation
    assert audited_day["stranger_mrn"] not in finding.explanation  # the sentence names no MRN

"""A suppression proposed from a case's finding ("false positive") mutes nothing until a privacy
officer other than the proposer approves it; both steps are audited and in the ledger of trusted
rows, so `audit verify` vouches for the row; migration r0013 adds the two columns the models have."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from auditor import database
from auditor.audit.log import EVENTS
from auditor.clock import FixedClock
from auditor.errors import NotFound
from auditor.home import create_home
from auditor.policy.suppressions import SuppressionRefused
from auditor.review import casework as office
from auditor.review.period import month_period, review_period
from auditor.vault.gateway import AccessContext
from auditor.vault.integrity import row_problems, verify_vault
from auditor.vault.records import Case, CaseFinding, Suppression
from tests.conftest import FAST_SCRYPT
from tests.reporting.report_data import hospital_month

DECEMBER_2 = datetime(2026, 12, 2, 14, tzinfo=timezone.utc)


@pytest.fixture
def reviewed(tmp_path, policy):
    vault = create_home(tmp_path / "home", clock=FixedClock(DECEMBER_2), scrypt_n=FAST_SCRYPT)
    hospital_month(vault)
    review_period(vault, month_period("2026-11", vault.timezone), policy)
    yield vault
    vault.close()


def _finding(vault, user_id: str, rule: str) -> tuple[int, int]:
    with vault.records.connect() as conn:
        return conn.execute(select(Case.id, CaseFinding.id).join(CaseFinding, CaseFinding.case_id == Case.id)
                            .where(Case.user_id == user_id, CaseFinding.rule == rule)).first()


def _muted(vault, policy, user_id: str, rule: str) -> list[bool]:
    review = review_period(vault, month_period("2026-11", vault.timezone), policy)
    return [f.muted for f in review.findings if f.user_id == user_id and f.rule == rule]


def test_a_proposal_mutes_nothing_until_another_officer_approves_it(reviewed, policy):
    vault = reviewed
    case_id, finding_id = _finding(vault, "n.muller", "vip-access")
    proposed = office.propose_suppression(vault, case_id, finding_id, "her own mother", date(2027, 3, 31), "ivy")
    assert _muted(vault, policy, "n.muller", "vip-access") == [False]
    (listed,) = [s for s in office.list_suppressions(vault) if s.id == proposed]
    assert (listed.status, listed.proposed_by, listed.approver, listed.reason) == ("proposed", "ivy", "", "her own mother")
    assert listed.to_dict()["proposed_by"] == "ivy"  # auditor suppressions list --format json says who proposed it
    with pytest.raises(SuppressionRefused, match="another officer approves it"):
        office.approve_suppression(vault, proposed, "ivy")
    office.approve_suppression(vault, proposed, "olga")
    assert _muted(vault, policy, "n.muller", "vip-access") == [True]
    with vault.records.connect() as conn:
        S = Suppression
        row = conn.execute(select(S.rule, S.user_id, S.approver, S.approved_at).where(S.id == proposed)).one()
        details = conn.scalars(select(EVENTS.c.detail).where(EVENTS.c.record_type == "suppression",
                                                             EVENTS.c.record_id == str(proposed))).all()
    assert (row.rule, row.user_id, row.approver, row.approved_at) == ("vip-access", "n.muller", "olga", DECEMBER_2)
    assert any("proposed by ivy from case" in d for d in details) and f"suppression {proposed} approved by olga" in details
    with pytest.raises(SuppressionRefused, match="not awaiting approval"):
        office.approve_suppression(vault, proposed, "olga")
    assert verify_vault(vault.records, vault.keyring, [vault.checkpoints.path]).ok


def test_refused_proposals_change_nothing(reviewed):
    vault = reviewed
    case_id, finding_id = _finding(vault, "n.muller", "vip-access")
    other_case, _ = _finding(vault, "c.coder", "sensitive-record-access")
    with pytest.raises(NotFound):
        office.propose_suppression(vault, other_case, finding_id, "why", date(2027, 1, 1), "ivy")
    with pytest.raises(SuppressionRefused, match="already past"):
        office.propose_suppression(vault, case_id, finding_id, "why", date(2026, 11, 1), "ivy")
    with pytest.raises(SuppressionRefused, match="a reason"):
        office.propose_suppression(vault, case_id, finding_id, "  ", date(2027, 1, 1), "ivy")
    with pytest.raises(SuppressionRefused, match="not awaiting approval"):
        added = office.add_suppression(vault, _request(), {"vip-access"})
        office.approve_suppression(vault, added, "olga")
    assert [s.status for s in office.list_suppressions(vault)] == ["active"]


def _request():
    from auditor.policy.suppressions import SuppressionRequest

    return SuppressionRequest("vip-access", "known", date(2027, 1, 1), "CPO", user_id="b.glass")


def test_a_tampered_approval_is_named_by_audit_verify(reviewed):
    """Approving a proposal by writing records.db (no gateway, no ledger event) is found."""
    vault = reviewed
    case_id, finding_id = _finding(vault, "n.muller", "vip-access")
    proposed = office.propose_suppression(vault, case_id, finding_id, "her own mother", date(2027, 3, 31), "ivy")
    with vault.records.begin() as conn:
        conn.execute(Suppression.__table__.update().where(Suppression.id == proposed)
                     .values(approver="mallory", approved_at=DECEMBER_2))
    problems = row_problems(verify_vault(vault.records, vault.keyring, [vault.checkpoints.path]))
    assert [p.kind for p in problems] == ["row-edited"] and "suppressions" in problems[0].message


def test_pending_proposals_name_their_patients_as_the_reader(reviewed):
    from auditor.staff.accounts import StaffAccounts

    vault = reviewed
    accounts = StaffAccounts(vault)
    admin = accounts.add("admin", "Ada Admin", ("admin",), "tangerine lighthouse", None)
    accounts.add("olga", "Olga Officer", ("privacy_officer",), "tangerine lighthouse", admin.account)
    case_id, finding_id = _finding(vault, "n.muller", "vip-access")
    office.propose_suppression(vault, case_id, finding_id, "her own mother", date(2027, 3, 31), "ivy")
    reader = AccessContext.of_staff("olga", "privacy_officer", "HCOMPL")
    (pending,) = office.pending_suppressions(vault, reader)
    assert (pending.mrn, pending.proposed_by, pending.reason) == ("P-VIP", "ivy", "her own mother")
    with vault.records.connect() as conn:
        reads = conn.execute(select(EVENTS.c.role, EVENTS.c.purpose, EVENTS.c.outcome)
                             .where(EVENTS.c.user_id == "olga")).all()
    assert [tuple(r) for r in reads] == [("privacy_officer", "HCOMPL", "success")]


def test_r0013_adds_the_proposal_columns_as_the_model_has_them(tmp_path):
    engine = database.connect(f"sqlite:///{tmp_path / 'old.db'}", must_exist=False)
    config = database._alembic_config("records", engine)
    command.upgrade(config, "r0012")
    database.upgrade("records", engine)
    columns = {c["name"] for c in inspect(engine).get_columns("suppressions")}
    assert {"proposed_by", "approved_at"} <= columns
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), database.RecordsBase.metadata)
    assert [d for d in differences if "suppressions" in repr(d)] == []
    command.downgrade(config, "r0012")
    assert not {"proposed_by", "approved_at"} & {c["name"] for c in inspect(engine).get_columns("suppressions")}
    engine.dispose()

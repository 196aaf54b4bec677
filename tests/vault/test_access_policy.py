"""A patient's restriction wins over every role's reach: restricted patients open only to their care
team or attending (45 CFR 164.522(a)); HIM's "any" does not open them; break-glass stays where the
role may break the glass. Through the policy, the gateway and the CLI."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import select

from auditor.audit.schema import AuditEventRow
from auditor.errors import AccessDenied
from auditor.vault.access_policy import RELATIONSHIPS, AccessPolicy
from auditor.vault.gateway import AccessContext, WorkforceRecord
from auditor.vault.records import ROLES, SENSITIVITIES

POLICY = AccessPolicy.load()
PURPOSES = sorted(POLICY.purpose_group)


@given(role=st.sampled_from(ROLES), purpose=st.sampled_from(PURPOSES),
       sensitivity=st.sampled_from(["demographics", *SENSITIVITIES]),
       held=st.sets(st.sampled_from([r for r in RELATIONSHIPS if r != "any"])))
def test_a_restricted_patient_opens_only_through_care_team_or_attending(role, purpose, sensitivity, held):
    decision = POLICY.decide(role, purpose, sensitivity, held, restricted=True, break_glass=False, reason=None)
    opening = held & {"care_team", "attending"} & POLICY.roles[role].relationship
    # as if the patient were not restricted and the member held only what opens a restricted chart
    unrestricted = POLICY.decide(role, purpose, sensitivity, opening, restricted=False, break_glass=False, reason=None)
    assert decision.allowed == (bool(opening) and unrestricted.allowed)
    if decision.allowed:
        assert decision.basis == "+".join(sorted(opening))


def test_him_keeps_any_on_other_patients():
    assert POLICY.decide("him", "HOPERAT", "general", set(), restricted=False, break_glass=False, reason=None).basis == "any"
    refused = POLICY.decide("him", "HOPERAT", "general", set(), restricted=True, break_glass=False, reason=None)
    assert not refused.allowed and refused.basis == "restricted patient: care team or attending only"


@pytest.fixture
def him(population):
    population.gateway.register_workforce(AccessContext.service("import"), [
        WorkforceRecord("him.clerk", "him", "Hana", "Records", department="HIM", hire_date=date(2020, 1, 1))])
    return population


def _outcomes(vault, user_id: str) -> list[tuple[str, str | None]]:
    with vault.records.connect() as conn:
        return [tuple(r) for r in conn.execute(select(AuditEventRow.outcome, AuditEventRow.detail)
                                               .where(AuditEventRow.user_id == user_id).order_by(AuditEventRow.seq))]


def test_him_staff_cannot_open_a_restricted_patient_through_the_gateway(him):
    assert him.gateway.read_chart(AccessContext("him.clerk", "HOPERAT"), "MRN-1").basis == "any"
    with pytest.raises(AccessDenied, match="restricted patient"):
        him.gateway.read_chart(AccessContext("him.clerk", "HOPERAT"), "MRN-2")
    with pytest.raises(AccessDenied, match="may not break the glass"):
        him.gateway.read_chart(AccessContext("him.clerk", "HOPERAT", reason="asked to", break_glass=True), "MRN-2")
    assert him.gateway.search_patients(AccessContext("him.clerk", "HOPERAT"), last_name="Lee") == []
    assert [o for o, _ in _outcomes(him, "him.clerk")] == ["success", "denied", "denied", "denied"]


def test_break_glass_by_a_role_that_may_still_opens_a_restricted_patient(him):
    chart = him.gateway.read_chart(AccessContext("dr.other", "TREAT", reason="code blue", break_glass=True), "MRN-2")
    assert chart.basis == "break-glass"


def test_him_staff_cannot_open_a_restricted_patient_from_the_cli(him, auditor, clock):
    refused = auditor("records", "show", "--mrn", "MRN-2", "--user", "him.clerk", "--purpose", "HOPERAT", clock=clock)
    assert refused.code == 2 and refused.err.strip() == (
        "auditor: access denied: restricted patient: care team or attending only")
    assert "Lee" not in refused.out
    shown = auditor("records", "show", "--mrn", "MRN-1", "--user", "him.clerk", "--purpose", "HOPERAT", clock=clock)
    assert shown.code == 0 and "access basis: any" in shown.out
    assert _outcomes(him, "him.clerk") == [("denied", "restricted patient: care team or attending only"),
                                           ("success", "any; 1 document(s) withheld")]

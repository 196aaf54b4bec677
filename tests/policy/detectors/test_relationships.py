"""Identity rules and the precedence among rules that claim an unexplained access."""

from __future__ import annotations

from auditor.policy import engine
from auditor.policy.examples import frames_from_tables
from auditor.policy.findings import build_findings

NURSE = {"user_id": "n.doe", "role": "nurse", "department": "Cardiology", "last_name": "doe",
         "household": "h1", "phone": "p1", "street": "s1"}


def _rules(policy, patients, events, **kw):
    frames = frames_from_tables(workforce=[NURSE, *kw.pop("others", [])], patients=patients, events=events, **kw)
    return sorted((f.rule, tuple(f.event_ids)) for f in build_findings(engine.run(frames, policy), policy))


def _open(eid, pid, at="2026-11-02T10:00:00", **extra):
    return {"id": eid, "at": at, "user_id": "n.doe", "patient_id": pid, **extra}


def test_family_vip_goes_to_family_only(policy):
    patients = [{"patient_id": 1, "last_name": "doe", "household": "h1", "vip": True}]
    assert _rules(policy, patients, [_open("e1", 1)]) == [("family-access", ("e1",))]


def test_family_needs_same_household_or_phone(policy):
    patients = [{"patient_id": 1, "last_name": "doe", "household": "h2", "phone": "p2", "street": "s9"}]
    assert _rules(policy, patients, [_open("e1", 1)]) == [("no-treatment-relationship", ("e1",))]


def test_deceased_29_days_is_not_yet_31_is(policy):
    patients = [{"patient_id": 1, "deceased_on": "2026-10-04"}, {"patient_id": 2, "deceased_on": "2026-10-02"}]
    got = _rules(policy, patients, [_open("d29", 1), _open("d31", 2)])
    assert got == [("deceased-patient-access", ("d31",)), ("no-treatment-relationship", ("d29",))]


def test_sensitive_record_claims_before_no_treatment(policy):
    got = _rules(policy, [{"patient_id": 1}], [_open("e1", 1, record_type="psychotherapy_note")])
    assert got == [("sensitive-record-access", ("e1",))]


def test_self_access_on_break_glass_is_reported_under_both(policy):
    me = {**NURSE, "own_patient_id": 7}
    frames = frames_from_tables(workforce=[me], patients=[{"patient_id": 7}],
                                events=[_open("e1", 7, break_glass=True, reason="test")])
    got = sorted(f.rule for f in build_findings(engine.run(frames, policy), policy))
    assert got == ["break-glass-review", "self-access"]


def test_findings_group_per_user_and_patient_and_rank_repeat_offenders_first(policy):
    other = {"user_id": "o.ne", "role": "nurse", "department": "Oncology"}
    events = [_open("a1", 1), _open("a2", 1, at="2026-11-03T10:00:00"), _open("b1", 2),
              {"id": "c1", "at": "2026-11-02T10:00:00", "user_id": "o.ne", "patient_id": 3, "record_type": "hiv"}]
    frames = frames_from_tables(workforce=[NURSE, other], patients=[{"patient_id": p} for p in (1, 2, 3)],
                                events=events)
    found = build_findings(engine.run(frames, policy), policy)
    assert [(f.rank, f.user_id) for f in found] == [(1, "n.doe"), (1, "n.doe"), (2, "o.ne")]
    assert all(f.case is None for f in found)  # no case until the case store attaches them
    first = next(f for f in found if f.event_ids == ["a1", "a2"])
    assert first.explanation == ("Nurse n.doe (Cardiology) opened the chart of a patient 2 times between "
                                 "2026-11-02 and 2026-11-03; no encounter, care-team or department link explains it.")
    assert found[-1].rule == "sensitive-record-access" and found[-1].risk > found[0].risk

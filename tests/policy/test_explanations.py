"""The contract's four explanations and their windows, on frames built in memory."""

from __future__ import annotations

from auditor.policy import engine
from auditor.policy.examples import frames_from_tables

NURSE = {"user_id": "n.doe", "role": "nurse", "department": "Cardiology"}
CODER = {"user_id": "c.ode", "role": "coding", "department": "HIM"}
ENCOUNTER = {"patient_id": 1, "department": "Cardiology", "attending": None,
             "start": "2026-11-10T09:00:00", "end": "2026-11-12T09:00:00"}


def _explained(policy, workforce, events, encounters=(), care_team=()):
    frames = frames_from_tables(workforce=workforce, patients=[{"patient_id": 1}], encounters=encounters,
                                care_team=care_team, events=events)
    ctx = engine.run(frames, policy).context
    why = ctx.accesses["explained_by"].astype(object)
    return dict(zip(ctx.accesses["event_ref"], why.where(why.notna(), None))), ctx


def test_department_window_is_7_days_before_to_30_after(policy):
    events = [{"id": "before-8d", "at": "2026-11-02T08:59:00", "user_id": "n.doe", "patient_id": 1},
              {"id": "before-7d", "at": "2026-11-03T09:00:00", "user_id": "n.doe", "patient_id": 1},
              {"id": "after-30d", "at": "2026-12-12T09:00:00", "user_id": "n.doe", "patient_id": 1},
              {"id": "after-31d", "at": "2026-12-13T09:00:00", "user_id": "n.doe", "patient_id": 1}]
    got, ctx = _explained(policy, [NURSE], events, [ENCOUNTER])
    assert got == {"before-8d": None, "before-7d": "department", "after-30d": "department", "after-31d": None}
    assert ctx.explained_share == 0.5


def test_care_team_then_attending_order_and_open_membership(policy):
    encounter = {**ENCOUNTER, "department": "Oncology", "attending": "n.doe"}
    team = [{"patient_id": 1, "user_id": "n.doe", "start": "2026-11-11T00:00:00", "end": None}]
    events = [{"id": "team", "at": "2027-06-01T00:00:00", "user_id": "n.doe", "patient_id": 1},
              {"id": "attending", "at": "2026-11-10T10:00:00", "user_id": "n.doe", "patient_id": 1}]
    got, _ = _explained(policy, [NURSE], events, [encounter], team)
    assert got == {"team": "care_team", "attending": "attending"}


def test_operational_window_30_before_90_after_never_for_sensitive_records(policy):
    events = [{"id": "ops", "at": "2027-02-09T09:00:00", "user_id": "c.ode", "patient_id": 1},
              {"id": "late", "at": "2027-02-10T09:00:01", "user_id": "c.ode", "patient_id": 1},
              {"id": "early", "at": "2026-10-11T09:00:00", "user_id": "c.ode", "patient_id": 1},
              {"id": "hiv", "at": "2026-11-11T09:00:00", "user_id": "c.ode", "patient_id": 1,
               "record_type": "hiv"}]
    got, _ = _explained(policy, [CODER], events, [{**ENCOUNTER, "department": "Cardiology"}])
    assert got == {"ops": "operational", "late": None, "early": "operational", "hiv": None}


def test_a_nurse_gets_no_operational_window(policy):
    events = [{"id": "e", "at": "2026-12-20T09:00:00", "user_id": "n.doe", "patient_id": 1}]
    got, _ = _explained(policy, [{**NURSE, "department": "Oncology"}], events, [ENCOUNTER])
    assert got == {"e": None}

"""repeated-denials and break-glass-review."""

from __future__ import annotations

from auditor.policy import engine
from auditor.policy.examples import frames_from_tables
from auditor.policy.findings import build_findings

USER = [{"user_id": "u.a", "role": "nurse", "department": "Cardiology"}]


def _denials(minutes):
    return [{"id": f"d{i}", "at": f"2026-11-02T10:{m:02d}:00", "user_id": "u.a", "action": "login_failed",
             "outcome": "denied"} for i, m in enumerate(minutes)]


def test_4_denials_in_60_minutes_do_not_fire(found):
    assert found("repeated-denials", workforce=USER, events=_denials([0, 10, 20, 30])) == []


def test_5_denials_within_60_minutes_inclusive_fire_once(found):
    events = _denials([0, 15, 30, 45]) + [{"id": "d9", "at": "2026-11-02T11:00:00", "user_id": "u.a",
                                           "action": "login_failed", "outcome": "denied"}]
    assert found("repeated-denials", workforce=USER, events=events) == [["d0", "d1", "d2", "d3", "d9"]]


def test_two_separate_bursts_are_two_findings(found):
    late = [{"id": f"x{i}", "at": f"2026-11-02T18:0{i}:00", "user_id": "u.a", "action": "login_failed",
             "outcome": "denied"} for i in range(5)]
    got = found("repeated-denials", workforce=USER, events=_denials([0, 1, 2, 3, 4]) + late)
    assert len(got) == 2


def test_successful_events_never_count_as_denials(found):
    events = _denials([0, 1, 2, 3]) + [{"id": "ok", "at": "2026-11-02T10:05:00", "user_id": "u.a", "patient_id": 1}]
    assert found("repeated-denials", workforce=USER, patients=[{"patient_id": 1}], events=events) == []


def test_break_glass_without_reason_is_high_and_not_unexplained(policy):
    events = [{"id": "bg", "at": "2026-11-02T10:00:00", "user_id": "u.a", "patient_id": 1, "break_glass": True},
              {"id": "bgr", "at": "2026-11-02T10:00:00", "user_id": "u.a", "patient_id": 2, "break_glass": True,
               "reason": "cardiac arrest"}]
    frames = frames_from_tables(workforce=USER, patients=[{"patient_id": 1, "vip": True}, {"patient_id": 2}],
                                events=events)
    found = build_findings(engine.run(frames, policy), policy)
    assert {(f.rule, f.event_ids[0], f.severity) for f in found} == {
        ("break-glass-review", "bg", "high"), ("break-glass-review", "bgr", "medium")}

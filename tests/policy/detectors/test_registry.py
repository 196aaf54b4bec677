"""Every rule, flagging nothing, answers with the hit frame's columns and types, as when it flags
something: the engine, the cluster's partitions and the rule examples read either the same way."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from auditor.policy.context import build_context
from auditor.policy.detectors import HIT_COLUMNS, REGISTRY, hits
from auditor.policy.examples import frames_from_tables
from auditor.policy.rules import load_policy

POLICY = load_policy()
NURSE = {"user_id": "n.doe", "role": "nurse", "department": "Cardiology", "shift_start": "07:00", "shift_end": "19:00"}
TEAM = {"patient_id": 1, "user_id": "n.doe", "start": "2026-11-01T00:00:00", "end": None}
# one access on a weekday morning by the patient's care-team nurse, in her shift: nothing a rule looks for
QUIET = [{"id": "e1", "at": "2026-11-03T10:00:00", "user_id": "n.doe", "patient_id": 1}]


@pytest.mark.parametrize("rule", POLICY.running(), ids=lambda rule: rule.id)
def test_a_rule_that_flags_nothing_answers_with_the_hit_columns(rule):
    frames = frames_from_tables(workforce=[NURSE], patients=[{"patient_id": 1}], care_team=[TEAM], events=QUIET)
    context = build_context(frames, POLICY.settings)
    detector = REGISTRY[rule.detector]
    if detector.after_others:
        context = replace(context, flagged=pd.Index([], dtype="int64"))
    found = detector.detect(context, rule.parameters)
    every = hits(context.accesses, "unit", "evidence")  # as a rule that flagged every access would answer
    assert found.empty and list(found.columns) == HIT_COLUMNS
    assert found.dtypes.to_dict() == every.dtypes.to_dict()

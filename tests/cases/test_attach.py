"""A finding's key (auditor.cases.attach.finding_key) is how a rerun knows what a case holds already:
however it is computed, it must stay the key earlier runs stored, for any text an export's ids hold."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given, settings, strategies as st

from auditor.cases.attach import finding_key
from auditor.policy.findings import Finding

ids = st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)


def _as_stored_before(f: Finding) -> str:
    doc = json.dumps([f.rule, f.user_id, f.patient_id, sorted(f.event_ids)], separators=(",", ":"))
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


@settings(max_examples=300, deadline=None)
@given(ids, st.one_of(st.none(), st.integers(min_value=0, max_value=2**63 - 1)), st.lists(ids, max_size=5))
def test_a_findings_key_is_the_one_earlier_runs_stored(user_id, patient_id, event_ids):
    f = Finding("snooping-coworker", "high", user_id, patient_id, None, event_ids, 70, "")
    assert finding_key(f) == _as_stored_before(f)


def test_ids_in_any_script_and_with_control_characters_keep_their_key():
    f = Finding("vip-access", "high", "dr.müller", 12, None, ["é-1", "tab\tnewline\n", 'quote"', "ü", "del\x7f"], 70, "")
    assert finding_key(f) == _as_stored_before(f)


def test_an_ascii_id_with_a_delete_character_keeps_its_key():
    f = Finding("vip-access", "high", "u1", None, None, ["a\x7fb"], 70, "")
    assert finding_key(f) == _as_stored_before(f)

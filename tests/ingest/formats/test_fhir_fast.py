"""The NDJSON shortcut (auditor.ingest.formats.fhir_fast) gives exactly the general mapper's event,
refusal and warnings for every line it takes, leaves to it every line it is not sure of, and does
take the usual BALP events (a shortcut that never ran would pass the first two)."""

from __future__ import annotations

import json
from collections import Counter
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.audit.fhir_export import audit_event as exported
from auditor.ingest.formats import Unmappable
from auditor.ingest.formats.fhir_fast import fast_event
from auditor.ingest.formats.fhir_mapping import NAME_NOT_KEPT, ROLE_NOT_KEPT, map_event
from tests.ingest.formats.fhir_data import audit_event as balp_event

ZONE = ZoneInfo("America/New_York")
ROW = {"event_id": "e1", "timestamp": "2026-11-05T08:10:00", "user_id": "u1", "mrn": "MRN1", "action": "view",
       "record_type": "note", "outcome": "success", "purpose_of_use": "TREAT", "break_glass": "false", "reason": "",
       "workstation": "WS-1"}


def _both(line: bytes):
    """(the shortcut's answer, the general mapper's), each an event, None or the refusal's text, with warnings."""
    def run(mapper):
        unmapped = Counter()
        try:
            return mapper(unmapped), unmapped
        except Unmappable as refused:
            return f"refused: {refused}", unmapped
    fast = run(lambda u: fast_event(line, ZONE, u))
    general = run(lambda u: map_event(orjson.loads(line), ZONE, u, line.decode("utf-8")))
    return fast, general


rows = st.fixed_dictionaries({
    **{k: st.just(v) for k, v in ROW.items()},
    "action": st.sampled_from(["view", "create", "update", "delete", "search", "export", "disclose", "print",
                               "login_failed"]),
    "record_type": st.sampled_from(["", "note", "lab", "imaging", "medication", "order", "other",
                                    "psychotherapy_note", "substance_use", "hiv", "genetic"]),
    "outcome": st.sampled_from(["success", "denied"]), "break_glass": st.sampled_from(["true", "false"]),
    "reason": st.sampled_from(["", "patient unconscious"]), "mrn": st.sampled_from(["", "MRN1", "12^^^&1.2&ISO"]),
    "purpose_of_use": st.sampled_from(["", "TREAT", "ETREAT"]), "workstation": st.sampled_from(["", "WS-1"])})
values = st.recursive(st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from(["", "1", "0", "R", "BTG", "Patient/1",
                                                                                       "Patient", "rest", "read"]),
                      lambda inner: st.lists(inner, max_size=2) | st.dictionaries(
                          st.sampled_from(["code", "coding", "system", "value", "reference", "identifier", "text",
                                           "type", "requestor", "who", "address", "network"]), inner, max_size=3),
                      max_leaves=8)
paths = st.sampled_from([("type",), ("subtype",), ("action",), ("outcome",), ("recorded",), ("agent",), ("entity",),
                         ("purposeOfEvent",), ("id",), ("patient",), ("category",), ("extension",), ("agent", 0, "who"),
                         ("agent", 0, "requestor"), ("agent", 0, "type"), ("agent", 0, "network"),
                         ("agent", 0, "purposeOfUse"), ("agent", 0, "networkString"), ("entity", 0, "what"),
                         ("entity", 0, "role"), ("entity", 0, "type"), ("entity", 0, "securityLabel"),
                         ("entity", 1, "what"), ("entity", 0, "what", "identifier"), ("agent", 0, "name"),
                         ("agent", 0, "role"), ("agent", 0, "who", "display"), ("entity", 0, "what", "display")])


def _set(event: dict, path: tuple, value) -> dict:
    here = event
    for step in path[:-1]:
        try:
            here = here[step]
        except (KeyError, IndexError, TypeError):
            return event
    if isinstance(here, dict):
        here[path[-1]] = value
    elif isinstance(here, list) and isinstance(path[-1], int) and path[-1] < len(here):
        here[path[-1]] = value
    return event


def _arranged(event: dict, arrangement: str) -> dict:
    """The event's entities and agents as a sender may order them (the shortcut writes the usual order out)."""
    entities, agents = event.get("entity", []), event["agent"]
    if arrangement == "the record first":
        event["entity"] = entities[::-1]
    elif arrangement == "two patients" and entities:
        event["entity"] = [entities[0], {**entities[0], "what": {"identifier": {"value": "MRN2"}}}, *entities[2:]]
    elif arrangement == "the patient alone":
        event["entity"] = entities[:1]
    elif arrangement == "a device before the user":
        event["agent"] = [{"who": {"identifier": {"value": "dev1"}}, "network": {"address": "DEV-1"}}, *agents]
    return event


times = st.none() | st.sampled_from([  # as senders write `recorded` (None: as the writer wrote it)
    "2026-11-05T13:10:00Z", "2026-11-05T08:10:00", "2026-11-05T08:10:00.1234567Z", "2026-11-05T08:10:00+05:30",
    "2026-11-05", " 2026-11-05T13:10:00Z", "2026-11-05T13:10:00.5z", "2026-11-05T13:10"])
arrangements = st.sampled_from(["as written", "the record first", "two patients", "the patient alone",
                                "a device before the user"])


@settings(max_examples=300, deadline=None)
@given(rows, st.lists(st.tuples(paths, values), max_size=3), st.booleans(), arrangements, times)
def test_the_shortcut_gives_the_general_mappers_event_or_leaves_the_line_to_it(row, changes, ours, arrangement,
                                                                             recorded):
    event = exported({"seq": 1, "at_us": 1_793_801_702_000_000, "source": "ehr", "source_event_id": "e1",
                      "user_id": "u1", "role": None, "action": row["action"], "patient_id": 1 if row["mrn"] else None,
                      "record_type": row["record_type"] or None, "outcome": row["outcome"],
                      "purpose": row["purpose_of_use"] or None, "break_glass": row["break_glass"] == "true",
                      "reason": None, "workstation": row["workstation"] or None},
                     row["mrn"] or None, row["reason"] or None) if ours else balp_event(row, ZONE)
    event = _arranged(event, arrangement)
    if recorded is not None:
        event["recorded"] = recorded
    for path, value in changes:
        event = _set(event, path, value)
    line = json.dumps(event).encode("utf-8")
    (fast, fast_warned), (general, general_warned) = _both(line)
    if fast is not None:
        assert fast == general and fast_warned == general_warned
    else:  # the general mapper counts the line's warnings: none may be counted twice
        assert fast_warned == Counter()
    assert _both(line)[0] == (fast, fast_warned)  # again: its parts are now mapped from the memos


@pytest.mark.parametrize("ours", [False, True])
def test_the_usual_events_take_the_shortcut(ours):
    for action in ("view", "update", "search", "export", "disclose", "print", "login_failed"):
        row = {**ROW, "action": action}
        event = balp_event(row, ZONE) if not ours else exported(
            {"seq": 1, "at_us": 0, "source": "ehr", "source_event_id": "e1", "user_id": "u1", "role": None,
             "action": action, "patient_id": 1, "record_type": "note", "outcome": "success", "purpose": "TREAT",
             "break_glass": True, "reason": None, "workstation": "WS-1"}, "MRN1", "unconscious")
        line = json.dumps(event).encode("utf-8")
        (fast, _), (general, _) = _both(line)
        assert fast is not None and fast == general


@pytest.mark.parametrize("role,name,display,counted", [
    ([{"text": "physician"}], "Dr Grey", "Meredith Grey", {NAME_NOT_KEPT, ROLE_NOT_KEPT}),
    (None, None, "Meredith Grey", {NAME_NOT_KEPT}),
    (None, None, None, set()),  # JSON null: nothing given
])
def test_an_event_whose_requestor_has_a_name_and_a_role_takes_the_shortcut_and_counts_them(role, name, display,
                                                                                           counted):
    """This auditor's export writes the user's role; BALP writers often a name: neither sends the line
    to the general mapper, and both are counted as it counts them."""
    event = balp_event(ROW, ZONE)
    event["agent"][0].update(role=role, name=name)
    event["agent"][0]["who"]["display"] = display
    (fast, fast_warned), (general, general_warned) = _both(json.dumps(event).encode("utf-8"))
    assert fast is not None and fast == general and fast_warned == general_warned
    assert set(fast_warned) == counted


@pytest.mark.parametrize("change", [
    {"patient": {"identifier": {"value": "MRN9"}}},  # R5: the general mapper reads it first
    {"outcome": {"code": {"code": "8"}}},  # R5's outcome
    {"type": {"coding": [{"code": "rest"}]}},  # a CodeableConcept where R4 has a Coding
    {"recorded": "yesterday"},  # the general mapper looks further
    {"resourceType": "Patient"},
])
def test_what_it_is_not_sure_of_goes_to_the_general_mapper(change):
    line = json.dumps({**balp_event(ROW, ZONE), **change}).encode("utf-8")
    assert fast_event(line, ZONE, Counter()) is None



def test_the_memos_hold_a_bounded_size_of_text_whatever_the_file():
    """A part may be as long as a line: a file of distinct long parts must not grow the memos with it."""
    from auditor.ingest.formats import fhir_fast

    base = balp_event(ROW, ZONE)
    for n in range(2500):  # 2,500 distinct entities of 15 KiB: more than a memo holds
        event = json.loads(json.dumps(base))
        event["entity"][-1]["description"] = f"{n:06d}" + "x" * (15 << 10)  # not read, but part of its text
        line = json.dumps(event).encode("utf-8")
        if n % 500 == 0:
            _taken_as_the_general_mapper_takes_it(line)
        else:
            assert fast_event(line, ZONE, Counter()) is not None
    known = fhir_fast._ENTITIES.known
    assert sum(len(k) + fhir_fast._ENTRY_BYTES for k in known) <= fhir_fast._MEMO_BYTES
    event["entity"][-1]["description"] = "y" * (20 << 10)  # longer than a memo keeps: mapped, not held
    _taken_as_the_general_mapper_takes_it(json.dumps(event).encode("utf-8"))
    assert not any(len(k) > fhir_fast._MEMO_KEY_BYTES for k in known)


def _taken_as_the_general_mapper_takes_it(line: bytes) -> None:
    fast, general = _both(line)
    assert fast[0] is not None and fast == general

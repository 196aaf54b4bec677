"""A context load's events, one for each patient (or member) it wrote, are recorded as one block from
AS_BLOCK_FROM on (AccessGateway._each_event): the same events, value for value and leaf for leaf, as
one AuditEvent each, and the log verifies."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from auditor.review.audit_log import verify_audit_log
from auditor.vault.gateway import (AccessContext, CareTeamRecord, DocumentRecord, EncounterRecord,
                                   PatientDemographics, WorkforceRecord)
from auditor.vault.gateway.care_activity import OrderRecord
from auditor.vault.gateway.recording import AS_BLOCK_FROM
from tests.vault.test_read_events import _rows, _stored, logged_both_ways

SVC = AccessContext.service("import")


def _varying(kind: str, n: int) -> tuple[dict[str, list], dict]:
    if kind == "patients":  # some with a column or two left empty, so `fields` varies
        fields = [("mrn", "first_name") if i % 3 else ("mrn",) for i in range(n)]
        return {"patient_id": [5000 + 11 * i for i in range(n)], "fields": fields}, {"record_type": "demographics"}
    if kind == "members":  # a member who is also a patient, or not
        return ({"record_id": [f"u{i}" for i in range(n)], "patient_id": [None if i % 2 else 9000 + i for i in range(n)],
                 "fields": [("first_name", "last_name")] * n}, {"record_type": "workforce"})
    return {"patient_id": [7000 + i for i in range(n)]}, {"record_type": "encounter"}


@pytest.mark.parametrize("n", [3, AS_BLOCK_FROM, 300])
@pytest.mark.parametrize("kind", ["patients", "members", "encounters"])
def test_events_written_together_are_the_events_written_one_by_one(tmp_path, clock, n, kind):
    varying, same = _varying(kind, n)

    def write(vault, together):
        g = vault.gateway

        def work(session, events):
            at = g.clock.now()
            writer = g._require(session, SVC, events, "create", at)
            if together:
                g._each_event(events, SVC, writer, "create", at, varying, **same)
            else:  # as the writes made them before: an AuditEvent each
                events.extend(g._event(SVC, writer, "create", at, **same, **{k: v[i] for k, v in varying.items()})
                              for i in range(n))

        g._audited(work)

    each, together = logged_both_ways(tmp_path, clock, n, write)
    assert together == each  # every stored value, and the leaf hash over them
    assert [e["patient_id"] for e in together] == varying.get("patient_id", [None] * n)


def test_a_context_load_of_many_patients_is_a_few_blocks_and_verifies(vault):
    """Registering patients and members, their encounters, care team, documents and orders: each write's
    events go as blocks (its ledger events already did), nothing one row each, and the log verifies."""
    g, n = vault.gateway, AS_BLOCK_FROM + 6
    before = _rows(vault)
    at = datetime(2026, 11, 2, 9, tzinfo=g.clock.now().tzinfo)
    ids = g.register_patients(SVC, [PatientDemographics(f"M{i}", None if i % 2 else "Ann", f"Lee{i}", "1970-01-01", "F")
                                    for i in range(n)], source="ehr").ids
    g.register_workforce(SVC, [WorkforceRecord(f"u{i}", "nurse", "Nia", f"Ode{i}", "1980-01-01",
                                               hire_date=date(2020, 1, 1)) for i in range(n)], source="ehr")
    g.add_encounters(SVC, [EncounterRecord("ehr", f"E{i}", f"M{i}", "inpatient", at, at) for i in range(n)],
                     [CareTeamRecord(f"M{i}", f"u{i}", at) for i in range(n)])
    g.add_documents(SVC, [DocumentRecord(f"M{i}", "note", at, "t", "b", source="ehr", source_id=f"D{i}")
                          for i in range(n)])
    g.add_care_team(SVC, [CareTeamRecord(f"M{i}", f"u{(i + 1) % n}", at) for i in range(n)])
    g.add_orders(SVC, [OrderRecord("ehr", f"O{i}", f"M{i}", "lab", at, ordering_user_id=f"u{i}") for i in range(n)])
    # the access control's own events (one row each, as before): none of the n a write made
    assert _rows(vault) - before < n
    assert verify_audit_log(vault).result.ok
    written = [e for e in _stored(vault) if e["action"] == "create" and e["record_type"] in
               ("demographics", "workforce", "encounter", "care_team", "document", "order")]
    named = {e["patient_id"]: "first_name" in e["fields"].split(",") for e in written if e["record_type"] == "demographics"}
    assert named == {pid: int(mrn[1:]) % 2 == 0 for mrn, pid in ids.items()}  # each event its own patient's fields
    assert {e["record_type"] for e in written} == {"demographics", "workforce", "encounter", "care_team", "document",
                                                   "order"}
    assert [e["record_id"] for e in written if e["record_type"] == "workforce"] == [f"u{i}" for i in range(n)]

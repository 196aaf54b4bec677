"""A small hospital for the retention tests: patients whose last encounters fall across twenty years,
a minor, a permanent record, a member of staff who is also a patient, a suppression naming a patient.
The clock of the tests is 2026-11-02; `AS_OF` is the day the schedules are applied on."""

from __future__ import annotations

from datetime import date, datetime, timezone

from auditor.home import Vault
from auditor.vault.gateway import (AccessContext, CareTeamRecord, DocumentRecord, EncounterRecord, PatientDemographics,
                                   WorkforceRecord)

AS_OF = date(2026, 11, 2)
SVC = AccessContext.service("import")


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=timezone.utc)


# MRN: (birth date, [(encounter day, department)], [(document type, day, title, body)])
PATIENTS = {
    "OLD-1": ("1950-02-03", ["2009-04-01", "2010-05-01"], [("note", "2010-05-01", "Discharge", "Chest pain resolved"),
                                                           ("lab", "2010-05-02", "Troponin", "0.01")]),
    "OLD-2": ("1960-07-08", ["2012-03-01"], [("medication", "2012-03-01", "Aspirin", "81 mg")]),
    "OLD-3": ("1971-01-01", ["2013-01-10"], []),
    "KID": ("2008-06-01", ["2010-09-09"], [("note", "2010-09-09", "Otitis", "Amoxicillin")]),
    "TEEN-DONE": ("2001-03-03", ["2010-09-09"], []),
    "RECENT": ("1980-05-05", ["2012-01-01", "2024-02-02"], []),
    "PERM": ("1940-01-01", ["2005-05-05"], [("birth_record", "2005-05-05", "Birth", "of a child")]),
    "IMG": ("1955-09-09", ["2012-06-06"], [("imaging", "2012-06-06", "Chest X-ray", "clear")]),
}


def build(vault: Vault) -> dict[str, int]:
    """Load the hospital through the gateway; returns MRN -> internal patient id."""
    g = vault.gateway
    reg = g.register_patients(SVC, [PatientDemographics(mrn, "Pat", f"Name{mrn}", birth, "F", "1 Test Street",
                                                        "Raleigh", "NC", "27601", "919-555-0100")
                                    for mrn, (birth, _, _) in PATIENTS.items()])
    g.register_workforce(SVC, [WorkforceRecord("dr.long", "physician", "Lee", "Long", department="Medicine",
                                                hire_date=date(2000, 1, 1)),
                               WorkforceRecord("n.self", "nurse", "Sue", "Self", department="Medicine",
                                               hire_date=date(2000, 1, 1), patient_mrn="OLD-1")])
    encounters = [EncounterRecord("test", f"{mrn}-{i}", mrn, "outpatient", _at(day), _at(day), "Medicine", "dr.long")
                  for mrn, (_, days, _) in PATIENTS.items() for i, day in enumerate(days)]
    g.add_encounters(SVC, encounters, [CareTeamRecord("OLD-1", "dr.long", _at("2010-05-01"), _at("2010-05-03")),
                                       CareTeamRecord("KID", "dr.long", _at("2010-09-09"))])
    g.add_documents(SVC, [DocumentRecord(mrn, doc_type, _at(day), title, body, source="test",
                                         source_id=f"{mrn}-{doc_type}-{day}")
                          for mrn, (_, _, docs) in PATIENTS.items() for doc_type, day, title, body in docs])
    return reg.ids

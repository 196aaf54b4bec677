"""`auditor import synthea DIR`: a Synthea CSV export as a realistic population.

patients -> patients; providers -> workforce (physicians, nurses, therapists by speciality);
encounters -> encounters (treatment relationships: attending and department); conditions,
medications and procedures -> encrypted clinical documents, labelled with a sensitivity.
Everything goes through the gateway as the `svc:import` service account, so the load is audited and
every value is sealed. Loading the same export twice adds nothing: rows are keyed by MRN, user id,
encounter id and "file:line".
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from auditor.errors import InputError
from auditor.vault.gateway import (AccessContext, AccessGateway, DocumentRecord, EncounterRecord, PatientDemographics,
                                   WorkforceRecord)

SOURCE = "synthea"
REQUIRED = ("patients.csv", "providers.csv", "encounters.csv")
ENCOUNTER_TYPES = {"inpatient": "inpatient", "emergency": "emergency", "urgentcare": "emergency",
                   "ambulatory": "outpatient", "outpatient": "outpatient", "wellness": "outpatient",
                   "virtual": "telehealth"}
ROLE_BY_SPECIALITY = {"NURSE PRACTITIONER": "nurse", "CLINICAL SOCIAL WORKER": "therapist",
                      "CLINICAL PSYCHOLOGIST": "therapist", "PHYSICAL THERAPY": "therapist",
                      "CHIROPRACTIC": "therapist", "OCCUPATIONAL THERAPY": "therapist"}
# Keyword labels for sensitive categories (HL7 v3 ActCode: ETH, HIV, GDIS, PSY). Checked in this order.
SENSITIVE_WORDS = (
    ("substance_use", ("alcohol", "opioid", "opiate", "substance", "drug abuse", "drug addiction", "methadone",
                       "buprenorphine", "naloxone", "naltrexone", "overdose")),
    ("hiv", ("hiv", "human immunodeficiency")),
    ("genetic", ("genetic", "brca", "karyotype", "chromosom")),
    ("mental_health", ("depress", "anxiety", "bipolar", "schizo", "psych", "suicid", "post-traumatic", "ptsd",
                       "behavioral therapy", "stress (finding)", "sertraline", "fluoxetine", "citalopram")),
)


def sensitivity_of(description: str) -> str:
    text = description.casefold()
    for label, words in SENSITIVE_WORDS:
        if any(w in text for w in words):
            return label
    return "general"


@dataclass
class ImportSummary:
    patients: int = 0
    workforce: int = 0
    encounters: int = 0
    documents: int = 0


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            for line, row in enumerate(csv.DictReader(f), start=2):
                yield line, row
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable CSV file ({type(exc).__name__})") from None


def _timestamp(value: str, where: str) -> datetime:
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value else datetime.combine(
            date.fromisoformat(value), datetime.min.time())
    except ValueError:
        raise InputError(f"{where}: not a date or timestamp") from None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _date(value: str, where: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise InputError(f"{where}: not a YYYY-MM-DD date") from None


def import_synthea(gateway: AccessGateway, folder: Path, progress: Callable[[str, int], None] = lambda *_: None,
                   batch: int = 2000) -> ImportSummary:
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if missing:
        raise InputError(f"{folder} is not a Synthea CSV export (missing {', '.join(missing)})")
    ctx = AccessContext.service("import")
    summary = ImportSummary()

    patients = []
    for line, r in _rows(folder / "patients.csv"):
        where = f"patients.csv:{line}"
        if not r.get("Id"):
            raise InputError(f"{where}: missing patient Id")
        patients.append(PatientDemographics(
            mrn=r["Id"], first_name=r.get("FIRST") or None, last_name=r.get("LAST") or None,
            birth_date=_date(r.get("BIRTHDATE", ""), where), sex=r.get("GENDER") or None,
            address_line=r.get("ADDRESS") or None, city=r.get("CITY") or None, state=r.get("STATE") or None,
            postal_code=r.get("ZIP") or None, deceased_on=_date(r.get("DEATHDATE", ""), where)))
    summary.patients = gateway.register_patients(ctx, patients, source=SOURCE).created
    progress("patients", len(patients))

    providers, speciality = [], {}
    for line, r in _rows(folder / "providers.csv"):
        first, _, last = (r.get("NAME") or "").partition(" ")
        user_id = f"syn-{r['Id'][:8]}"
        speciality[r["Id"]] = (user_id, (r.get("SPECIALITY") or "General Practice").title())
        providers.append(WorkforceRecord(user_id=user_id, role=ROLE_BY_SPECIALITY.get(r.get("SPECIALITY", ""), "physician"),
                                         first_name=first or None, last_name=last or None,
                                         department=speciality[r["Id"]][1]))
    summary.workforce = gateway.register_workforce(ctx, providers, source=SOURCE).created
    progress("workforce", len(providers))

    encounters = []
    for line, r in _rows(folder / "encounters.csv"):
        where = f"encounters.csv:{line}"
        user_id, department = speciality.get(r.get("PROVIDER", ""), (None, None))
        start = _timestamp(r["START"], where)
        encounters.append(EncounterRecord(SOURCE, r["Id"], r["PATIENT"], ENCOUNTER_TYPES.get(r.get("ENCOUNTERCLASS", ""), "other"),
                                          start, _timestamp(r["STOP"], where) if r.get("STOP") else start,
                                          department, user_id))
    for i in range(0, len(encounters), batch):
        summary.encounters += gateway.add_encounters(ctx, encounters[i : i + batch])
    progress("encounters", len(encounters))

    for name, doc_type, when in (("conditions.csv", "condition", "START"), ("medications.csv", "medication", "START"),
                                 ("procedures.csv", "procedure", "DATE")):
        if not (folder / name).is_file():
            continue
        docs = []
        for line, r in _rows(folder / name):
            description = r.get("DESCRIPTION") or ""
            docs.append(DocumentRecord(
                mrn=r["PATIENT"], doc_type=doc_type, recorded_at=_timestamp(r[when], f"{name}:{line}"),
                title=description or None, sensitivity=sensitivity_of(description),
                body=json.dumps({k.lower(): v for k, v in r.items() if v and k not in ("PATIENT",)}, sort_keys=True),
                source=SOURCE, source_id=f"{name}:{line}"))
        for i in range(0, len(docs), batch):
            summary.documents += gateway.add_documents(ctx, docs[i : i + batch])
        progress(name, len(docs))
    return summary

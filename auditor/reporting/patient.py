"""A patient's access report: "who accessed my record and why" (45 CFR 164.308(a)(1)(ii)(D) review
data, given to the patient or their representative at the privacy office's discretion; the
accounting of disclosures, 164.528, is the release-of-information side's).

Every successful access to the patient's record in the period, with user, role, department, local
date and time, purpose and the treatment relationship that explains it, or a plain statement that
none does. The patient is found by MRN through the gateway as svc:report, so producing the report
is itself audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from auditor.errors import NotFound
from auditor.home import Vault
from auditor.policy.context import build_context
from auditor.policy.frames import Period, load_frames
from auditor.policy.rules import Policy
from auditor.reporting.templates import Site
from auditor.vault.gateway import AccessContext
from auditor.vault.gateway.directory import ReportDirectory

EXPLANATION_TEXT = {
    "care_team": "on the patient's care team",
    "attending": "attending physician of the patient's encounter",
    "department": "works in the department treating the patient",
    "operational": "billing, coding, registration or records work for the patient's encounter",
}
PURPOSE_TEXT = {"TREAT": "treatment", "ETREAT": "emergency treatment", "BTG": "emergency access",
                "HPAYMT": "payment", "HOPERAT": "health care operations", "PATRQT": "patient request",
                "treatment": "treatment", "payment": "payment", "operations": "health care operations"}


@dataclass(frozen=True)
class PatientReportRequest:
    mrn: str
    first_day: date
    last_day: date


def build_patient_report(vault: Vault, request: PatientReportRequest, policy: Policy, site: Site, tz,
                         now: datetime | None = None) -> dict:
    ctx = AccessContext.service("report")
    found = [p for p in vault.gateway.search_patients(ctx, mrn=request.mrn) if p.mrn == request.mrn.strip()]
    if not found:
        raise NotFound("no patient with that MRN")  # never echo the MRN: it identifies a patient
    patient = found[0]
    period = Period(request.first_day, request.last_day, tz)
    frames = load_frames(vault.records, period, patient_id=patient.patient_id, log_key=vault.keyring.log_mac_key)
    accesses = build_context(frames, policy.settings).accesses.sort_values("at", kind="stable")
    users = sorted(set(accesses["user_id"].dropna()))
    names = ReportDirectory(vault.gateway, ctx).people(users)
    rows = []
    for a in accesses.itertuples():  # one patient's accesses: a short list, read by a person
        local = a.at.tz_convert(tz)
        why = EXPLANATION_TEXT.get(str(a.explained_by)) if a.explained else None
        rows.append({"when": local.strftime("%Y-%m-%d %H:%M"), "user": names.get(a.user_id, a.user_id),
                     "role": str(a.role) if isinstance(a.role, str) else "unknown",
                     "department": a.department_label if isinstance(a.department_label, str) else "",
                     "action": str(a.action), "record": str(a.record_type) if isinstance(a.record_type, str) else "",
                     "purpose": PURPOSE_TEXT.get(str(a.purpose), str(a.purpose) if isinstance(a.purpose, str) else ""),
                     "break_glass": bool(a.break_glass), "explained": bool(a.explained),
                     "explanation": why or "no treatment relationship on record: reviewed by the privacy office"})
    explained = sum(r["explained"] for r in rows)
    return {"site": site, "title": "Who accessed my record and why",
            "patient": {"name": ", ".join(x for x in (patient.last_name, patient.first_name) if x),
                        "mrn": patient.mrn, "birth_date": patient.birth_date},
            "period": {"first_day": request.first_day, "last_day": request.last_day, "timezone": tz.key,
                       "label": f"{request.first_day:%Y-%m-%d} to {request.last_day:%Y-%m-%d}"},
            "generated_at": (now or datetime.now(timezone.utc)).astimezone(tz),
            "accesses": rows, "users": len(users), "explained": explained,
            "unexplained": len(rows) - explained}

"""A patient's access report, laid out: "who accessed my record and why" in the patient's words, from
the PatientAccessReport auditor.review.patient_access gathers. Every access with user, role,
department, local date and time, purpose and the treatment relationship that explains it, or a plain
statement that none does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from auditor.reporting.templates import Site

if TYPE_CHECKING:  # pragma: no cover
    from auditor.vault.gateway import PatientSummary

EXPLANATION_TEXT = {
    "care_team": "on the patient's care team",
    "attending": "attending physician of the patient's encounter",
    "department": "works in the department treating the patient",
    "order": "placed or carries out an order for the patient",
    "appointment": "the patient's appointment is with them or their department",
    "document": "wrote in the patient's chart",
    "operational": "billing, coding, registration or records work for the patient's encounter",
    "case_review": "the privacy office reviewing a case that concerns the patient",
}
PURPOSE_TEXT = {"TREAT": "treatment", "ETREAT": "emergency treatment", "BTG": "emergency access",
                "HPAYMT": "payment", "HOPERAT": "health care operations", "PATRQT": "patient request",
                "HCOMPL": "privacy office review",
                "treatment": "treatment", "payment": "payment", "operations": "health care operations"}
UNEXPLAINED = "no treatment relationship on record"
# what the privacy office has done about an access nothing explains, by the status of the case holding it
# (no case: not flagged, or muted by an exception the office approved): only what is true, nothing of the case
REVIEW_TEXT = {None: UNEXPLAINED, "open": f"{UNEXPLAINED}: in a case the privacy office has yet to review",
               "under_review": f"{UNEXPLAINED}: the privacy office is reviewing it",
               "closed": f"{UNEXPLAINED}: reviewed by the privacy office"}


@dataclass(frozen=True)
class PatientAccess:
    """One access to the patient's record, in the engine's words (codes; reporting/ words them)."""

    at: datetime  # local time of the organisation
    user_id: str
    user: str  # display name ('J. Doe'), or the user id when the directory has none
    role: str | None
    department: str | None
    action: str
    record_type: str | None
    purpose: str | None
    break_glass: bool
    explained_by: str | None  # care_team, attending, department, operational, case_review; None: nothing does
    review: str | None = None  # the status of the case holding an unexplained access (None: in no case)


@dataclass(frozen=True)
class PatientAccessReport:
    patient: "PatientSummary"  # found by MRN through the gateway
    first_day: date
    last_day: date
    timezone: ZoneInfo
    generated_at: datetime
    accesses: list[PatientAccess]  # oldest first

    @property
    def users(self) -> int:
        return len({a.user_id for a in self.accesses if isinstance(a.user_id, str)})

    @property
    def unexplained(self) -> int:
        return sum(a.explained_by is None for a in self.accesses)


def access_row(a: PatientAccess) -> dict:
    why = EXPLANATION_TEXT.get(a.explained_by) if a.explained_by is not None else None
    return {"when": a.at.strftime("%Y-%m-%d %H:%M"), "user": a.user, "role": a.role if a.role is not None else "unknown",
            "department": a.department or "", "action": a.action, "record": a.record_type or "",
            "purpose": PURPOSE_TEXT.get(a.purpose, a.purpose) if a.purpose is not None else "",
            "break_glass": a.break_glass, "explained": a.explained_by is not None,
            "explanation": why or REVIEW_TEXT.get(a.review, UNEXPLAINED)}


def patient_context(report: PatientAccessReport, site: Site) -> dict:
    """The template context of reports/patient.html."""
    patient, tz = report.patient, report.timezone
    rows = [access_row(a) for a in report.accesses]
    explained = sum(r["explained"] for r in rows)
    return {"site": site, "title": "Who accessed my record and why",
            "patient": {"name": ", ".join(x for x in (patient.last_name, patient.first_name) if x),
                        "mrn": patient.mrn, "birth_date": patient.birth_date},
            "period": {"first_day": report.first_day, "last_day": report.last_day, "timezone": tz.key,
                       "label": f"{report.first_day:%Y-%m-%d} to {report.last_day:%Y-%m-%d}"},
            "generated_at": report.generated_at.astimezone(tz),
            "accesses": rows, "users": report.users, "explained": explained, "unexplained": len(rows) - explained}

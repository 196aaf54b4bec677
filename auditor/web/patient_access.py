"""The patient access report page: "who opened this chart and why". The MRN is typed into a POST form
(never a URL); the patient is looked up through the gateway as the signed-in person, for compliance
(HCOMPL), so the office's own look-ups are audited and watched like anyone's. Printable: the page's
print stylesheet leaves the report alone on paper."""

from __future__ import annotations

from datetime import date

from starlette.responses import Response

from auditor.errors import InputError, NotFound
from auditor.reporting.patient import access_row
from auditor.review.patient_access import patient_access_report
from auditor.staff.roles import INVESTIGATOR, OFFICE_REVIEW, PRIVACY_OFFICER
from auditor.web.routing import View

ROLES = frozenset({PRIVACY_OFFICER, INVESTIGATOR})  # the office's investigators (staff: in policies/access_control.yaml)


def search_form(view: View) -> Response:
    return view.render("patient_access.html", report=None, rows=[], message=None, asked={})


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text.strip() else None
    except ValueError:
        raise InputError("give days as YYYY-MM-DD") from None


def report(view: View) -> Response:
    asked = {k: view.form.get(k, "").strip() for k in ("from", "to")}
    mrn = view.form.get("mrn", "").strip()
    try:
        if not mrn:
            raise InputError("give the patient's MRN")
        found = patient_access_report(view.office.vault, mrn, _day(asked["from"]), _day(asked["to"]),
                                      reader=view.access_context(OFFICE_REVIEW))
    except (InputError, NotFound) as exc:  # their messages never hold the MRN
        return view.render("patient_access.html", status=400 if isinstance(exc, InputError) else 404,
                           report=None, rows=[], message=str(exc), asked=asked)
    patient = found.patient
    name = ", ".join(x for x in (patient.last_name, patient.first_name) if x)
    return view.render("patient_access.html", report=found, rows=[access_row(a) for a in found.accesses],
                       name=name, message=None, asked=asked)

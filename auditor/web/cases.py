"""The triage queue and the case page. The queue shows clear columns only (workforce ids, rules,
counts: nothing that names a patient); its filters are query parameters (rule, severity, department,
status, page), none of them PHI. The case page reads the patients its findings name through the
gateway as the signed-in account (HCOMPL: the office investigating a complaint or a finding, audited
in that person's name); a viewer's role reads no PHI, so a viewer sees the case without them.

Who may act (issue 16, section 3): an investigator or an officer reviews and writes notes; only a
privacy officer closes a case with its disposition and sanction (45 CFR 164.530(e))."""

from __future__ import annotations

from datetime import date

from starlette.responses import Response

from auditor.cases.settings import CaseSettings
from auditor.cases.workflow import DISPOSITIONS, SANCTIONS
from auditor.errors import InputError
from auditor.policy.validation import SEVERITIES
from auditor.review import casework as office
from auditor.review.triage import QUEUE_STATUSES, TriageFilters, triage_queue
from auditor.staff.roles import INVESTIGATOR, OFFICE_REVIEW, PRIVACY_OFFICER, VIEWER
from auditor.web.routing import View

CASE_READERS = frozenset({PRIVACY_OFFICER, INVESTIGATOR, VIEWER})
CASE_WORKERS = frozenset({PRIVACY_OFFICER, INVESTIGATOR})
CASE_DECIDERS = frozenset({PRIVACY_OFFICER})


def _settings(view: View) -> CaseSettings:
    return view.office.case_settings  # cases.yaml (the site's, if serve names one): overdue, review budget


def _filters(view: View) -> tuple[TriageFilters, int]:
    q = view.request.query_params
    picked = {name: (q.get(name) or None) for name in ("rule", "severity", "department")}
    status = q.get("status") or QUEUE_STATUSES[0]
    try:
        page = int(q.get("page") or 1)
    except ValueError:
        raise InputError("the page is a number") from None
    return TriageFilters(status=status, **picked), page


def queue(view: View) -> Response:
    filters, page = _filters(view)
    found = triage_queue(view.office.vault, _settings(view), filters, page)
    return view.render("cases.html", queue=found, severities=SEVERITIES, statuses=QUEUE_STATUSES)


def _reader(view: View):
    """The signed-in account reading patients, in an office role that reads them; None for a viewer."""
    for role in (PRIVACY_OFFICER, INVESTIGATOR):
        if view.account.holds(role):
            return view.access_context(OFFICE_REVIEW, role=role)
    return None


def _case_id(view: View) -> int:
    return int(view.request.path_params["case_id"])


def show_case(view: View, status: int = 200, message: str | None = None) -> Response:
    page = office.case_page(view.office.vault, _case_id(view), _settings(view), _reader(view), view.office.rules)
    may_work = view.account.holds(*CASE_WORKERS)
    may_close = view.account.holds(*CASE_DECIDERS)
    return view.render("case.html", status=status, case=page.file.case, findings=page.file.findings,
                       history=page.file.history, timeline=page.timeline, reasons=page.reasons, patients=page.patients, opened=page.opened, may_work=may_work,
                       may_close=may_close, dispositions=DISPOSITIONS, sanctions=SANCTIONS, message=message)


def _act(view: View, act, done: str) -> Response:
    try:
        act()
    except InputError as exc:  # an invalid transition or value: the case again, with the reason
        return show_case(view, 400, str(exc))
    return show_case(view, message=done)


def review_case(view: View) -> Response:
    note = view.form.get("note") or None
    return _act(view, lambda: office.start_review(view.office.vault, _case_id(view), view.account.user_name, note),
                "The case is under review.")


def note_case(view: View) -> Response:
    text = view.form.get("text", "")
    return _act(view, lambda: office.add_note(view.office.vault, _case_id(view), view.account.user_name, text),
                "Note added.")


def propose_suppression(view: View) -> Response:
    """False positive: a finding's rule, member and patient proposed for a suppression (pending until an
    officer other than the proposer approves it on the suppressions page)."""
    form = view.form
    try:
        finding_id = int(form.get("finding", ""))
        last_day = date.fromisoformat(form.get("expires", ""))
    except ValueError:
        return show_case(view, 400, "choose a finding and give the last day as YYYY-MM-DD")
    return _act(view, lambda: office.propose_suppression(
        view.office.vault, _case_id(view), finding_id, form.get("reason", ""), last_day, view.account.user_name),
        "Suppression proposed; a privacy officer other than you approves it on the Suppressions page.")


def close_case(view: View) -> Response:
    form = view.form
    return _act(view, lambda: office.close_case(view.office.vault, _case_id(view), form.get("disposition", ""),
                                                form.get("sanction", ""), view.account.user_name,
                                                form.get("note") or None), "The case is closed.")

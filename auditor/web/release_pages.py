"""The release-of-information desk (roi_coordinator): the queue with due and overdue, the intake form,
a request's file with the authorization checklist naming each missing element (45 CFR 164.508(c)),
fulfilment with its packet, denial with its letter, the accounting of disclosures (164.528), and the
files of the request's folder to download. Changes go through auditor.review.release as svc:roi,
each naming the coordinator's account; the patient, the MRN and the requester are read as the
coordinator (auditor.review.release_desk). MRNs travel in POST bodies; URLs hold request ids only."""

from __future__ import annotations

from datetime import date

from starlette.responses import Response

from auditor.errors import InputError
from auditor.review import release, release_desk
from auditor.roi.fulfilment import DENIAL_BASES
from auditor.roi.permissions import Permission, from_form
from auditor.roi.policy import RoiPolicy, load_roi_policy
from auditor.roi.workflow import FORMATS, NewRequest
from auditor.staff.roles import ROI_COORDINATOR
from auditor.vault.records import SENSITIVITIES
from auditor.web.downloads import attachment, path_number, to_page
from auditor.web.routing import Page, View

REPRESENTATIVE = ("signed_by_representative", "representative_authority")


def _reader(view: View):
    return lambda purpose: view.access_context(purpose, role=ROI_COORDINATOR)


def _day(view: View, field: str, what: str) -> date | None:
    text = view.form.get(field, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{what} is not a YYYY-MM-DD date") from None


def _needed(view: View, field: str, what: str) -> str:
    text = view.form.get(field, "").strip()
    if not text:
        raise InputError(f"give {what}")
    return text


# -- the queue and the intake ------------------------------------------------------------------------
def _desk(view: View, status: int = 200, message: str | None = None) -> Response:
    policy = load_roi_policy()
    rows = release_desk.queue_with_patients(view.office.vault, _reader(view))
    return view.render("roi.html", status=status, rows=rows, message=message, today=view.office.vault.today(),
                       requesters=list(policy.requesters), formats=FORMATS, form=view.form)


def desk(view: View) -> Response:
    return _desk(view)


def intake(view: View) -> Response:
    """A new request: the patient by MRN (in this POST's body), the requester, what they ask for."""
    try:
        new = NewRequest(
            _needed(view, "mrn", "the patient's MRN"), view.form.get("requester_type", ""),
            _needed(view, "requester_name", "the requester's name"),
            _needed(view, "requester_address", "where the records go"), _day(view, "received", "The day received"),
            tuple(t.strip() for t in view.form.get("types", "").split(",") if t.strip()),
            _day(view, "first_day", "The first day"), _day(view, "last_day", "The last day"),
            view.form.get("format", "pdf"), view.form.get("legal_process") or None,
            view.form.get("state", "").strip() or None, view.form.get("accounting") == "on")
        request_id = release.open_request(view.office.vault, new, view.account.user_name)
    except InputError as exc:  # the form again, as typed, with why (never the MRN in a message)
        return _desk(view, 400, str(exc))
    return to_page(view, "roi_request", request_id=request_id)


# -- a request --------------------------------------------------------------------------------------
def _request(view: View, status: int = 200, message: str | None = None, missing=None, kind: str | None = None) -> Response:
    policy = load_roi_policy()
    found = release_desk.request_view(view.office.vault, path_number(view, "request_id"), _reader(view), policy)
    return view.render("roi_request.html", status=status, r=found, message=message, missing=missing or [],
                       open_kind=kind, filled=view.form if kind else {}, checklists=list(policy.checklists.values()),
                       sensitivities=SENSITIVITIES, bases=sorted(DENIAL_BASES.items()))


def request_page(view: View) -> Response:
    return _request(view)


def _act(view: View, change) -> Response:
    """Do `change()`; back to the request's page, or the page with why it was refused (nothing changed)."""
    try:
        change()
    except InputError as exc:
        return _request(view, 400, str(exc))
    return to_page(view, "roi_request", request_id=path_number(view, "request_id"))


def review(view: View) -> Response:
    waiting = view.form.get("waiting_for", "").strip() or None
    return _act(view, lambda: release.review_request(view.office.vault, path_number(view, "request_id"),
                                                     view.account.user_name, waiting))


def _permission(view: View, policy: RoiPolicy) -> Permission:
    """The permission as the form for its kind gives it: each element's text, each statement ticked."""
    kind = view.form.get("kind", "")
    checklist = policy.checklists.get(kind)
    if checklist is None:
        raise InputError(f"unknown permission kind {kind!r}")
    doc: dict = {"kind": kind, "covers": [s for s in SENSITIVITIES if view.form.get(f"covers_{s}") == "on"] or ["general"]}
    for item in checklist.elements:
        if item.id == "expiration":
            doc["expires_on"] = view.form.get("expires_on", "").strip() or None
            doc["expiration_event"] = view.form.get("expiration_event", "").strip() or None
        else:
            doc[item.id] = view.form.get(item.id, "").strip() or None
    for item in checklist.statements:
        doc[item.id] = view.form.get(item.id) == "on"
    if view.form.get(REPRESENTATIVE[0]) == "on":
        doc[REPRESENTATIVE[0]] = True
        doc[REPRESENTATIVE[1]] = view.form.get(REPRESENTATIVE[1], "").strip() or None
    return from_form({k: v for k, v in doc.items() if v is not None})


def permission(view: View) -> Response:
    """Check the permission against its checklist: each missing element named on the page, or recorded."""
    vault, policy = view.office.vault, load_roi_policy()
    kind = view.form.get("kind")
    try:
        given = _permission(view, policy)
    except InputError as exc:
        return _request(view, 400, str(exc), kind=kind)
    missing = release_desk.check_permission(given, vault.today(), policy)
    if missing:
        return _request(view, 400, f"The {given.kind.replace('_', ' ')} cannot be relied on: {len(missing)} "
                                   "element(s) missing or wrong, each named below.", missing, given.kind)
    return _act(view, lambda: release.authorize(vault, path_number(view, "request_id"), given, view.account.user_name,
                                                policy=policy))


def fulfil(view: View) -> Response:
    vault, request_id = view.office.vault, path_number(view, "request_id")
    return _act(view, lambda: release.fulfil(vault, request_id, view.account.user_name,
                                             release_desk.request_folder(vault, request_id), view.office.site))


def deny(view: View) -> Response:
    vault, request_id = view.office.vault, path_number(view, "request_id")
    return _act(view, lambda: release.deny(vault, request_id, view.form.get("basis", ""), view.account.user_name,
                                           _needed(view, "contact", "who the requester may write to"),
                                           release_desk.request_folder(vault, request_id), view.office.site))


def accounting(view: View) -> Response:
    vault, request_id = view.office.vault, path_number(view, "request_id")
    return _act(view, lambda: release_desk.answer_accounting(vault, request_id, _reader(view), view.account.user_name,
                                                             view.office.site))


def close(view: View) -> Response:
    return _act(view, lambda: release.close(view.office.vault, path_number(view, "request_id"), view.account.user_name))


def download(view: View) -> Response:
    request_id, name = path_number(view, "request_id"), view.request.path_params["name"]
    content, media = release_desk.kept_file(view.office.vault, request_id, name, _reader(view))
    return attachment(f"request-{request_id}-{name}", content, media)


COORDINATORS = frozenset({ROI_COORDINATOR})
_ONE = "/roi/requests/{request_id:int}"
PAGES = [
    Page("/roi", "roi", desk, roles=COORDINATORS, title="Release of information"),
    Page("/roi/requests", "open_roi_request", intake, roles=COORDINATORS, methods=("POST",)),
    Page(_ONE, "roi_request", request_page, roles=COORDINATORS),
    Page(f"{_ONE}/review", "roi_review", review, roles=COORDINATORS, methods=("POST",)),
    Page(f"{_ONE}/permission", "roi_permission", permission, roles=COORDINATORS, methods=("POST",)),
    Page(f"{_ONE}/fulfil", "roi_fulfil", fulfil, roles=COORDINATORS, methods=("POST",)),
    Page(f"{_ONE}/deny", "roi_deny", deny, roles=COORDINATORS, methods=("POST",)),
    Page(f"{_ONE}/accounting", "roi_accounting", accounting, roles=COORDINATORS, methods=("POST",)),
    Page(f"{_ONE}/close", "roi_close", close, roles=COORDINATORS, methods=("POST",)),
    Page(f"{_ONE}/files/{{name}}", "roi_file", download, roles=COORDINATORS),
]

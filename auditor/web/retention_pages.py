"""Retention (records_manager): the plan for today (recorded with its digest, the MRNs read as the
signed-in records manager for records management), legal holds placed and released, and a purge by
two people: one records manager proposes the purge of a recorded plan, another account approves it
and it is carried out, its certificate of destruction naming both (auditor.review.purge_approval).
MRNs travel in POST bodies; URLs hold plan, hold, proposal and purge numbers only."""

from __future__ import annotations

from datetime import date

from starlette.responses import Response

from auditor.errors import InputError
from auditor.retention.holds import HoldRequest
from auditor.review import purge_approval, retention
from auditor.staff.accounts import StaffAccounts
from auditor.staff.roles import RECORDS_MANAGER
from auditor.web.downloads import attachment, path_number, to_page
from auditor.web.routing import Page, View

RECORDS_MANAGEMENT = "RECORDMGT"  # HL7 v3 PurposeOfUse: records management


def _page(view: View, status: int = 200, message: str | None = None, planned=None, proposed=None,
          done=None) -> Response:
    vault = view.office.vault
    return view.render("retention.html", status=status, message=message, planned=planned, proposed=proposed,
                       done=done, holds=retention.list_holds(vault), proposals=purge_approval.proposals(vault),
                       today=vault.today(), me=view.account.user_name, form=view.form if status != 200 else {})


def _day(view: View, field: str, what: str) -> date | None:
    text = view.form.get(field, "").strip()
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise InputError(f"{what} is not a YYYY-MM-DD date") from None


def page(view: View) -> Response:
    return _page(view)


def plan(view: View) -> Response:
    """Today's plan, recorded (a plan is recorded whenever somebody is eligible), shown with its MRNs."""
    vault = view.office.vault
    planned = retention.plan_retention(vault, vault.today(), state=view.form.get("state", "").strip() or None,
                                       reader=view.access_context(RECORDS_MANAGEMENT, role=RECORDS_MANAGER))
    return _page(view, planned=planned)


def place_hold(view: View) -> Response:
    """A legal hold on a patient (the MRN in this POST's body), a record type, a date range or their intersection."""
    try:
        retention.place_hold(view.office.vault, HoldRequest(
            view.form.get("reason", ""), view.form.get("authority", ""), view.account.user_name,
            mrn=view.form.get("mrn", "").strip() or None, record_type=view.form.get("record_type", "").strip() or None,
            covers_from=_day(view, "covers_from", "The first day covered"),
            covers_to=_day(view, "covers_to", "The last day covered")))
    except InputError as exc:  # the form again as typed, with why (never the MRN in a message)
        return _page(view, 400, str(exc))
    return to_page(view, "retention")


def release_hold(view: View) -> Response:
    try:
        retention.release_hold(view.office.vault, path_number(view, "hold_id"), view.form.get("reason", ""),
                               view.account.user_name)
    except InputError as exc:
        return _page(view, 400, str(exc))
    return to_page(view, "retention")


def propose(view: View) -> Response:
    try:
        proposal, description = purge_approval.propose(view.office.vault, path_number(view, "plan_id"),
                                                       view.account.user_name)
    except InputError as exc:
        return _page(view, 400, str(exc))
    return _page(view, proposed=(proposal, description))


def _names(view: View, users: tuple[str, ...]) -> dict[str, str]:
    """How the certificate names each of these accounts: "Full Name (user)"."""
    accounts = StaffAccounts(view.office.vault)
    wanted = [a for a in accounts.list() if a.user_name in users]
    full = accounts.full_names(wanted)
    return {a.user_name: f"{full[a.id]} ({a.user_name})" for a in wanted}


def approve(view: View) -> Response:
    """Approve another records manager's proposal: the purge is carried out now, its certificate issued."""
    vault, proposal_id = view.office.vault, path_number(view, "proposal_id")
    proposer = next((p.proposed_by for p in purge_approval.proposals(vault) if p.id == proposal_id), "")
    try:
        done = purge_approval.approve(vault, proposal_id, view.account.user_name,
                                      _names(view, (proposer, view.account.user_name)), view.office.site)
    except InputError as exc:
        return _page(view, 400, str(exc))
    return _page(view, done=done)


def certificate(view: View) -> Response:
    purge_id = path_number(view, "purge_id")
    html, _ = retention.certificate(view.office.vault, purge_id)
    return attachment(f"certificate-of-destruction-{purge_id}.html", html.encode("utf-8"), "text/html; charset=utf-8")


MANAGERS = frozenset({RECORDS_MANAGER})
PAGES = [
    Page("/retention", "retention", page, roles=MANAGERS, title="Retention"),
    Page("/retention/plan", "retention_plan", plan, roles=MANAGERS, methods=("POST",)),
    Page("/retention/holds", "place_hold", place_hold, roles=MANAGERS, methods=("POST",)),
    Page("/retention/holds/{hold_id:int}/release", "release_hold", release_hold, roles=MANAGERS, methods=("POST",)),
    Page("/retention/plans/{plan_id:int}/propose", "propose_purge", propose, roles=MANAGERS, methods=("POST",)),
    Page("/retention/proposals/{proposal_id:int}/approve", "approve_purge", approve, roles=MANAGERS,
         methods=("POST",)),
    Page("/retention/purges/{purge_id:int}/certificate.html", "purge_certificate", certificate, roles=MANAGERS),
]

"""Suppressions proposed from cases, awaiting approval: the list (the patients read through the
gateway as the signed-in account, HCOMPL; the reasons opened by the casework desk, audited) and the
approval, by a privacy officer other than the proposer (two people, as a purge has), which also mutes
the findings it matches in the cases not closed (auditor.cases.muting)."""

from __future__ import annotations

from starlette.responses import Response

from auditor.errors import InputError
from auditor.review import casework as office
from auditor.staff.roles import INVESTIGATOR, OFFICE_REVIEW, PRIVACY_OFFICER
from auditor.web.routing import View

READERS = frozenset({PRIVACY_OFFICER, INVESTIGATOR})
APPROVERS = frozenset({PRIVACY_OFFICER})


def _page(view: View, status: int = 200, message: str | None = None) -> Response:
    role = PRIVACY_OFFICER if view.account.holds(PRIVACY_OFFICER) else INVESTIGATOR
    pending = office.pending_suppressions(view.office.vault, view.access_context(OFFICE_REVIEW, role=role))
    return view.render("suppressions.html", status=status, pending=pending, message=message,
                       may_approve=view.account.holds(*APPROVERS))


def pending(view: View) -> Response:
    return _page(view)


def approve(view: View) -> Response:
    suppression_id = int(view.request.path_params["suppression_id"])
    try:
        muted = office.approve_suppression(view.office.vault, suppression_id, view.account.user_name)
    except InputError as exc:
        return _page(view, 400, str(exc))
    where = (f" It muted {sum(muted.values())} finding(s) in case {', '.join(map(str, muted))}." if muted else "")
    return _page(view, message=f"Suppression {suppression_id} approved: from now on it mutes its findings.{where}")

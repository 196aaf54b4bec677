"""Admin: staff accounts. Listing them, adding one (its otpauth:// URI shown once, on this response
only, never in a URL), disabling and enabling. Each change is an audit event naming the admin
(auditor.staff.accounts)."""

from __future__ import annotations

from starlette.responses import Response

from auditor.errors import InputError, NotFound
from auditor.staff.accounts import StaffAccounts
from auditor.staff.roles import ROLES
from auditor.web.routing import View


def _page(view: View, status: int = 200, message: str | None = None, enrolment=None) -> Response:
    accounts = StaffAccounts(view.office.vault, view.office.hashing)
    listed = accounts.list()
    names = accounts.full_names(listed)
    now = view.office.clock.now()
    rows = [{"user": a.user_name, "name": names[a.id], "roles": a.roles, "status": a.status(now),
             "created": a.created_at} for a in listed]
    return view.render("accounts.html", status=status, rows=rows, roles=list(ROLES.items()), message=message,
                       enrolment=enrolment)


def accounts(view: View) -> Response:
    return _page(view)


def add_account(view: View) -> Response:
    roles = tuple(r for r in ROLES if view.form.get(f"role_{r}") == "on")
    try:
        enrolment = StaffAccounts(view.office.vault, view.office.hashing).add(
            view.form.get("user", ""), view.form.get("name", ""), roles, view.form.get("password", ""), view.account)
    except InputError as exc:
        return _page(view, 400, str(exc))
    return _page(view, enrolment=enrolment, message=f"Account {enrolment.account.user_name} added.")


def disable_account(view: View) -> Response:
    return _change(view, "disable")


def enable_account(view: View) -> Response:
    return _change(view, "enable")


def _change(view: View, what: str) -> Response:
    accounts = StaffAccounts(view.office.vault, view.office.hashing)
    try:
        done = getattr(accounts, what)(view.form.get("user", ""), view.account)
    except (InputError, NotFound) as exc:
        return _page(view, 400, str(exc))
    return _page(view, message=f"Account {done.user_name} {what}d.")

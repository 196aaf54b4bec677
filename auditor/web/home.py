"""The home page: who is signed in, with which roles, and the pages those roles open."""

from __future__ import annotations

from starlette.responses import Response

from auditor.staff.roles import ROLES
from auditor.web.routing import View


def home(view: View) -> Response:
    roles = [(role, ROLES[role]) for role in view.account.roles]
    return view.render("home.html", roles=roles, started=view.signed_in.started_at)

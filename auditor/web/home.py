"""The home page: the month at a glance (auditor.review.glance), each figure shown to the roles whose
work it is (an ROI coordinator sees the requests, not the cases), then who is signed in and with
which roles. The month is chosen in a GET form (a month is no PHI); by default the month just ended,
the one the office reviews."""

from __future__ import annotations

from datetime import date

from starlette.responses import Response

from auditor.errors import InputError
from auditor.review.glance import month_at_a_glance
from auditor.review.period import month_period
from auditor.staff.roles import INVESTIGATOR, PRIVACY_OFFICER, ROI_COORDINATOR, ROLES, VIEWER
from auditor.web.routing import View

SEES_CASES = (PRIVACY_OFFICER, INVESTIGATOR, VIEWER)  # accesses, findings, cases
SEES_REQUESTS = (PRIVACY_OFFICER, ROI_COORDINATOR, VIEWER)  # release-of-information deadlines


def month_just_ended(today: date) -> str:
    return f"{today.year - (today.month == 1):04d}-{(today.month - 2) % 12 + 1:02d}"


def home(view: View) -> Response:
    vault = view.office.vault
    month, message = view.request.query_params.get("month") or month_just_ended(vault.today()), None
    try:
        period = month_period(month, vault.timezone)
    except InputError:
        month, message = month_just_ended(vault.today()), "Choose a month as YYYY-MM; showing the month just ended."
        period = month_period(month, vault.timezone)
    cases, requests = view.account.holds(*SEES_CASES), view.account.holds(*SEES_REQUESTS)
    glance = month_at_a_glance(vault, period, cases=cases, releases=requests, policy=view.office.rules)
    roles = [(role, ROLES[role]) for role in view.account.roles]
    return view.render("home.html", roles=roles, started=view.signed_in.started_at, glance=glance,
                       sees_cases=cases, sees_requests=requests, message=message)

"""Reports: the monthly privacy audit report, generated for a month in the app's background worker
(auditor.web.background) with its progress shown on a page that refreshes itself, kept in the home's
report store (auditor.review.stored_reports) and downloaded from there by number, as HTML or PDF.

A privacy officer generates; a viewer downloads the reports already made. The names in a report's
rows are read as the officer who asks for it (purpose HCOMPL, audited in their name); its author is
the officer's full name; every download is an audit event naming who took which file."""

from __future__ import annotations

from datetime import date

from starlette.responses import Response

from auditor.errors import InputError
from auditor.review.period import month_period
from auditor.review.stored_reports import ReportStore, generate_monthly_report, record_download
from auditor.staff.accounts import StaffAccounts
from auditor.staff.roles import OFFICE_REVIEW, PRIVACY_OFFICER, VIEWER
from auditor.web.downloads import attachment, path_number, to_page
from auditor.web.routing import Page, View

KIND = "report"


def _last_month(today: date) -> str:
    return f"{today.year - (today.month == 1)}-{(today.month - 2) % 12 + 1:02d}"


def reports(view: View) -> Response:
    vault = view.office.vault
    return view.render("reports.html", kept=ReportStore(vault.home).list(), month=_last_month(vault.today()),
                       work=view.office.background.latest(KIND), generates=view.account.holds(PRIVACY_OFFICER),
                       message=None)


def generate(view: View) -> Response:
    """Start the month's report in the background (refused while other work runs); its progress page."""
    vault, account = view.office.vault, view.account
    month = view.form.get("month", "").strip()
    month_period(month, vault.timezone)  # a bad month is refused now, not in the background
    pseudonymize = view.form.get("pseudonymize") == "on"
    author = StaffAccounts(vault).full_names([account])[account.id]
    reader = view.access_context(OFFICE_REVIEW, role=PRIVACY_OFFICER)
    policy, case_settings, site = view.office.rules, view.office.case_settings, view.office.site

    def work(progress):
        return generate_monthly_report(vault, month, policy, site, author=author, requested_by=account.user_name,
                                       reader=reader, pseudonymize=pseudonymize, case_settings=case_settings,
                                       progress=progress)

    try:
        started = view.office.background.start(KIND, f"monthly report for {month}", account.user_name, work)
    except InputError as exc:
        return view.render("reports.html", status=409, kept=ReportStore(vault.home).list(), month=month,
                           work=view.office.background.latest(KIND), generates=True, message=str(exc))
    return to_page(view, "report_progress", work_id=started.id)


def progress(view: View) -> Response:
    work = view.office.background.get(path_number(view, "work_id"), KIND)
    return view.render("report_progress.html", work=work, here=view.request.url.path)


def _download(view: View, kind: str) -> Response:
    vault, report_id = view.office.vault, path_number(view, "report_id")
    name, content, media = ReportStore(vault.home).file(report_id, kind)
    record_download(vault, report_id, kind, view.account.user_name, f"web session {view.signed_in.session_id}")
    return attachment(name, content, media)


def download_html(view: View) -> Response:
    return _download(view, "html")


def download_pdf(view: View) -> Response:
    return _download(view, "pdf")


OFFICERS = frozenset({PRIVACY_OFFICER})
READERS = frozenset({PRIVACY_OFFICER, VIEWER})
PAGES = [
    Page("/reports", "reports", reports, roles=READERS, title="Reports"),
    Page("/reports/generate", "generate_report", generate, roles=OFFICERS, methods=("POST",)),
    Page("/reports/progress/{work_id:int}", "report_progress", progress, roles=OFFICERS),
    Page("/reports/{report_id:int}/report.html", "report_html", download_html, roles=READERS),
    Page("/reports/{report_id:int}/report.pdf", "report_pdf", download_pdf, roles=READERS),
]

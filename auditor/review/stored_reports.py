"""Monthly reports kept by the vault home for the web app: generated into $AUDITOR_HOME/reports/<id>/
(owner-only: report.html, report.pdf, findings.csv, findings.json, and about.json, what the listing
shows), listed, and read back by number only (a request names a report's id, never a path).

Generating one is the monthly report of auditor.review.monthly: the month reviewed as svc:report
and svc:cases (findings into cases), the names in its rows read as the person who asked for it (the
`reader`, audited in their name), its author the person's full name; then one svc:report event says
which report was made for whom, and each download says who took which file."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from auditor.cases.settings import CaseSettings
from auditor.errors import NotFound, OutputError
from auditor.home import Vault
from auditor.phi_files import private_folder, read_private, write_private
from auditor.policy.rules import Policy
from auditor.reporting.templates import Site
from auditor.review.monthly import Progress, monthly_report, write_monthly_report
from auditor.review.period import month_period
from auditor.vault.gateway.context import AccessContext
from auditor.vault.gateway.directory import ReportDirectory

FOLDER = "reports"
ABOUT = "about.json"
FILES = {"html": ("report.html", "text/html; charset=utf-8"), "pdf": ("report.pdf", "application/pdf")}
WRITING = "writing the report's files"


@dataclass(frozen=True)
class StoredReport:
    id: int
    month: str  # YYYY-MM
    author: str  # the full name of the account that asked for it
    requested_by: str  # that account's user name
    generated_at: datetime
    pseudonymized: bool
    accesses: int
    explained_share: float | None
    findings: int
    cases: int
    log_verified: bool
    kinds: tuple[str, ...]  # of FILES, those written

    def to_about(self) -> dict:
        return {"id": self.id, "month": self.month, "author": self.author, "requested_by": self.requested_by,
                "generated_at": self.generated_at.isoformat(), "pseudonymized": self.pseudonymized,
                "accesses": self.accesses, "explained_share": self.explained_share, "findings": self.findings,
                "cases": self.cases, "log_verified": self.log_verified, "kinds": list(self.kinds)}

    @classmethod
    def from_about(cls, report_id: int, doc: dict) -> "StoredReport":
        return cls(report_id, str(doc["month"]), str(doc["author"]), str(doc["requested_by"]),
                   datetime.fromisoformat(doc["generated_at"]), bool(doc["pseudonymized"]), int(doc["accesses"]),
                   None if doc["explained_share"] is None else float(doc["explained_share"]), int(doc["findings"]),
                   int(doc["cases"]), bool(doc["log_verified"]), tuple(k for k in doc["kinds"] if k in FILES))


class ReportStore:
    """The reports folder of a vault home. A report's folder is its number; a folder without a
    readable about.json (a report being written, or one that failed) is not listed."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.folder = self.home / FOLDER

    def reserve(self) -> tuple[int, Path]:
        """A new report's number and its empty folder (0700), made exclusively."""
        private_folder(self.folder)
        number = max(self._numbers(), default=0) + 1
        while True:
            try:
                (self.folder / str(number)).mkdir(mode=0o700)
                return number, self.folder / str(number)
            except FileExistsError:
                number += 1
            except OSError as exc:
                raise OutputError(f"cannot create a folder in {self.folder}: {exc.strerror}") from None

    def _numbers(self) -> list[int]:
        try:
            return [int(p.name) for p in self.folder.iterdir() if p.name.isdigit() and not p.is_symlink()]
        except OSError:
            return []

    def get(self, report_id: int) -> StoredReport:
        try:
            doc = json.loads(read_private(self.home, FOLDER, str(report_id), ABOUT))
            return StoredReport.from_about(report_id, doc)
        except (ValueError, KeyError, TypeError):
            raise NotFound(f"no report {report_id}") from None
        except NotFound:
            raise NotFound(f"no report {report_id}") from None

    def list(self) -> list[StoredReport]:
        """Every report kept, newest first."""
        found = []
        for number in sorted(self._numbers(), reverse=True):
            try:
                found.append(self.get(number))
            except NotFound:
                continue
        return found

    def file(self, report_id: int, kind: str) -> tuple[str, bytes, str]:
        """(download name, content, media type) of the report's `kind` (html or pdf)."""
        report = self.get(report_id)
        if kind not in report.kinds:
            raise NotFound(f"report {report_id} has no {kind} file")
        name, media = FILES[kind]
        return f"privacy-report-{report.month}.{kind}", read_private(self.home, FOLDER, str(report_id), name), media


def generate_monthly_report(vault: Vault, month: str, policy: Policy, site: Site, *, author: str, requested_by: str,
                            reader: AccessContext | None, pseudonymize: bool = False,
                            case_settings: CaseSettings | None = None, pdf: bool = True,
                            progress: Progress | None = None) -> StoredReport:
    """The monthly report of `month` (YYYY-MM, the organisation's local days) made and kept in the
    home's report store; nothing is kept when it fails."""
    tell = progress or (lambda stage: None)
    period = month_period(month, vault.timezone)
    store = ReportStore(vault.home)
    number, folder = store.reserve()
    try:
        report = monthly_report(vault, period, policy, site, author=author, pseudonymize=pseudonymize,
                                case_settings=case_settings, progress=progress, reader=reader)
        tell(WRITING)
        written = write_monthly_report(report, folder, pdf=pdf)
        head = report.headline
        share = None if head.explained_share is None else float(head.explained_share)
        kept = StoredReport(number, month, author, requested_by, report.context["generated_at"], pseudonymize,
                            int(head.accesses), share, int(head.findings), int(head.cases), bool(head.log_verified),
                            tuple(k for k in FILES if k in written))
        write_private(folder / ABOUT, json.dumps(kept.to_about(), indent=2))
        ReportDirectory(vault.gateway).change("view", lambda change: change.record(
            "monthly_report", number, f"monthly report {number} for {month} made for {requested_by}: "
            f"{kept.findings} finding(s) in {kept.cases} case(s)" + ("; pseudonymized" if pseudonymize else "")))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return kept


def record_download(vault: Vault, report_id: int, kind: str, by: str, where: str | None = None) -> None:
    """The audit event of a report file handed to `by` (a user name; `where`: their session)."""
    ReportDirectory(vault.gateway).change("view", lambda change: change.record(
        "monthly_report", report_id, f"monthly report {report_id} ({FILES[kind][0]}) downloaded by {by}"
        + (f", {where}" if where else "")))

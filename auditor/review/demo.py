"""The demo as a use case (`auditor demo`, the README's first command): in a new folder, a fresh vault,
a staff account to sign in to the web app with, a synthetic hospital's month of EHR activity ingested
through the audited gateway, a chart read and a refusal through the gateway itself, the month reviewed
and its monthly privacy audit report written, the log checkpointed and verified. The command shows
progress and prints; this does the work."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

import pyotp
from sqlalchemy import select

from auditor.audit.verify import Verification
from auditor.cases.settings import load_case_settings
from auditor.clock import Clock
from auditor.errors import AccessDenied
from auditor.home import Vault, create_home
from auditor.ingest.ehr_import import ingest_directory
from auditor.policy.frames import Period
from auditor.policy.rules import load_policy
from auditor.reporting.templates import load_site
from auditor.review.audit_log import check_log
from auditor.review.monthly import REVIEWING, Headline, monthly_report, write_monthly_report
from auditor.phi_files import write_private
from auditor.review.period import month_period
from auditor.simulation.writer import write_hospital
from auditor.staff.accounts import StaffAccounts
from auditor.staff.desk import Account
from auditor.staff.roles import ADMIN, PRIVACY_OFFICER, RECORDS_MANAGER, ROI_COORDINATOR
from auditor.vault.gateway import AccessContext, EncounterRecord
from auditor.vault.gateway.context import Operator
from auditor.vault.records import Encounter, WorkforceMember

ZONE = "America/New_York"
ORGANISATION = "Demo General Hospital (synthetic)"
DEMO_USER = "demo.officer"
# one sign-in opens every page of the office but the investigator's; admin: a vault's first account is one
DEMO_ROLES = (ADMIN, PRIVACY_OFFICER, ROI_COORDINATOR, RECORDS_MANAGER)
SIGN_IN_FILE = "sign-in.txt"
SERVE_URL = "http://127.0.0.1:8000/login"  # auditor serve's default address


class Steps(Protocol):
    """How the demo tells its progress: a step begins (with how many parts), a part of it is done."""

    def begin(self, description: str, parts: int = 1) -> None: ...

    def advance(self) -> None: ...


class NoSteps:
    def begin(self, description: str, parts: int = 1) -> None:
        pass

    def advance(self) -> None:
        pass


@dataclass(frozen=True)
class DemoRequest:
    out: Path  # a new (or empty) folder
    events: int
    seed: int = 1
    synthea: Path | None = None  # a Synthea CSV export that names the simulated patients
    pdf: bool = True


@dataclass(frozen=True)
class DemoAccount:
    """The demo's staff account with its password and TOTP secret in the clear: a demo vault holds a
    synthetic hospital only. A real account's password is chosen by its holder and its secret shown
    once (auditor users add); never print or keep them as the demo does."""

    account: Account
    password: str
    otpauth_uri: str

    @property
    def user_name(self) -> str:
        return self.account.user_name

    @property
    def secret(self) -> str:
        return pyotp.parse_uri(self.otpauth_uri).secret

    def code(self, at: datetime) -> str:
        """The TOTP code at `at` (good once: a second sign-in in the same 30 s is refused)."""
        return pyotp.TOTP(self.secret).at(at)

    def instructions(self, vault: Path) -> list[str]:
        """How to start the web app on `vault` and sign in as this account, in lines to print."""
        roles = ", ".join(r.replace("_", " ") for r in self.account.roles)
        return [f"auditor serve --home {vault}",
                f"then open {SERVE_URL}: user {self.user_name} ({roles}), password {self.password},",
                f"and a TOTP code from an authenticator app given {self.otpauth_uri}",
                "or from: python -c \"import pyotp; print(pyotp.TOTP('" + self.secret + "').now())\""]


def add_demo_account(vault: Vault, user_name: str = DEMO_USER, roles: tuple[str, ...] = DEMO_ROLES,
                     by: Account | None = None) -> DemoAccount:
    """A staff account for the demo with a generated password (`by`: the admin adding it; None for
    the vault's first account, which must hold admin). Recorded like any account (svc:staff)."""
    password = secrets.token_urlsafe(12)  # 96 random bits
    enrolment = StaffAccounts(vault).add(user_name, "Demo Officer (synthetic)", roles, password, by)
    return DemoAccount(enrolment.account, password, enrolment.otpauth_uri)


def write_sign_in(account: DemoAccount, vault: Path, path: Path) -> None:
    """The demo account's sign-in, 0600, beside the demo's vault (whose keyring is as readable there)."""
    lines = ["DEMO ONLY: a synthetic hospital's vault. A real account's password and TOTP secret are never",
             "written down like this.", *account.instructions(vault)]
    write_private(path, "\n".join(lines) + "\n")


@dataclass(frozen=True)
class Demo:
    """What the demo made: where, what it loaded and read, the month's headline, the report's files,
    and the staff account to sign in to the web app with."""

    vault: Path
    export: Path
    access_events: int  # loaded from the export's access log
    labelled: int  # events labelled in labels.csv
    reads: list[str]  # the gateway's own reads and refusal, in words
    period: Period
    headline: Headline
    verified: Verification
    paths: dict[str, Path]
    seconds: float
    account: DemoAccount
    sign_in: Path


def last_full_month(today: date) -> str:
    first = today.replace(day=1) - timedelta(days=1)
    return f"{first:%Y-%m}"


def gateway_reads(vault: Vault) -> list[str]:
    """An attending opens a chart and a physician from another department is refused: the vault's own
    accesses go into the same audit log the rules read."""
    with vault.records.connect() as conn:  # ids only, no PHI
        attending = conn.execute(select(WorkforceMember.user_id, WorkforceMember.department, Encounter.patient_id)
                                 .join(Encounter, Encounter.attending_id == WorkforceMember.id)
                                 .where(WorkforceMember.role == "physician", WorkforceMember.termination_date.is_(None))
                                 .order_by(Encounter.start.desc()).limit(1)).one()
        outsider = conn.scalar(select(WorkforceMember.user_id).where(
            WorkforceMember.department != attending.department, WorkforceMember.role == "physician",
            WorkforceMember.termination_date.is_(None)).limit(1))
    mrn = vault.gateway.read_patients(AccessContext.service("report"), [attending.patient_id])[attending.patient_id].mrn
    now = vault.clock.now()  # seen today, so the physician has a treatment relationship now
    vault.gateway.add_encounters(AccessContext.service("import"), [EncounterRecord(
        "demo", f"visit-{now:%Y%m%d%H%M%S}", mrn, "outpatient", now, now, attending.department, attending.user_id)])
    chart = vault.gateway.read_chart(AccessContext(attending.user_id, "TREAT"), mrn)
    lines = [f"{attending.user_id} opened a chart through the gateway (basis: {chart.basis})"]
    try:
        vault.gateway.read_chart(AccessContext(outsider, "TREAT"), mrn)
    except AccessDenied as exc:
        lines.append(f"{outsider} was refused ({exc}); the attempt is in the audit log")
    lines.append(f"open it yourself: auditor records show --mrn {mrn} --user {attending.user_id} --purpose TREAT")
    return lines


def run_demo(clock: Clock, request: DemoRequest, steps: Steps | None = None) -> Demo:
    """Make the demo in `request.out` (the caller makes and, on failure, removes the folder)."""
    steps = steps or NoSteps()
    started, out, zone = time.perf_counter(), request.out, ZoneInfo(ZONE)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    vault = create_home(out / "vault", clock=clock, operator=Operator.of_this_process())
    try:
        account = add_demo_account(vault)
        write_sign_in(account, out / "vault", out / SIGN_IN_FILE)
        month = last_full_month(vault.clock.now().astimezone(zone).date())
        steps.begin(f"simulating {request.events:,} accesses in {month}")
        hospital = write_hospital(out / "export", request.seed, events=request.events, month=month, zone=ZONE,
                                  synthea=request.synthea)
        steps.begin("ingesting the export through the gateway", 5)  # the contract's five files
        vault.set_timezone(zone)
        ingested = ingest_directory(vault.gateway, out / "export", zone, progress=lambda name: steps.advance())
        reads = gateway_reads(vault)
        site, began = load_site(None, ORGANISATION), set()

        def stage(name: str) -> None:  # two steps of the demo: the rules, then the report
            step = "running the privacy rules" if name == REVIEWING else "writing the monthly report"
            if step not in began:
                began.add(step)
                steps.begin(step, 1 if name == REVIEWING else 2)

        report = monthly_report(vault, month_period(month, zone), load_policy(), site, author="auditor demo",
                                case_settings=load_case_settings(), progress=stage)
        steps.advance()
        paths = write_monthly_report(report, out / "report", pdf=request.pdf)
        steps.advance()
        with vault.records.connect() as conn:
            vault.audit_log.checkpoint_now(conn)
        verified = check_log(vault)
    finally:
        vault.close()
    log = ingested.files.get("access_log.csv")
    return Demo(out / "vault", out / "export", log.loaded if log else 0, sum(hospital.label_counts.values()), reads,
                report.period, report.headline, verified, paths, time.perf_counter() - started, account,
                out / SIGN_IN_FILE)

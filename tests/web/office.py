"""A privacy office to test the web app against: a vault holding a small month of a synthetic
hospital's EHR activity (ingested through the gateway and reviewed: findings in cases), a staff
account for every role with a known password and TOTP secret, and the vault's PHI (MRNs and patient
names) to look for where it must never be (URLs, log lines).

Built once per test session (`build_office`, about 3 s) and copied for each test that changes it
(`copy_office`): a copy of a home is a vault of its own (home.json names its files relatively)."""

from __future__ import annotations

import csv
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote_plus, urlparse, parse_qs
from zoneinfo import ZoneInfo

import pyotp

from auditor.clock import FixedClock
from auditor.home import Vault, create_home
from auditor.policy.rules import load_policy
from auditor.review.ingest import choose_timezone, ingest_export
from auditor.review.period import month_period, review_period
from auditor.simulation.writer import write_hospital
from auditor.staff.accounts import StaffAccounts
from auditor.staff.roles import ADMIN, ROLES

MONTH = "2026-11"
ZONE = "America/New_York"
STARTS = datetime(2026, 12, 2, 15, 0, tzinfo=timezone.utc)  # the office's clock when a test begins
PASSWORD = "tangerine lighthouse"
EVENTS = 2_000
SEED = 7
FAST_SCRYPT = 2**10  # tests only, as tests/conftest.py


@dataclass(frozen=True)
class Staff:
    """A staff account a test signs in as: its user name, password and TOTP secret."""

    user: str
    password: str
    uri: str
    roles: tuple[str, ...]

    @property
    def secret(self) -> str:
        return parse_qs(urlparse(self.uri).query)["secret"][0]

    def code(self, at: datetime) -> str:
        """The code an authenticator app shows at `at`."""
        return pyotp.TOTP(self.secret).at(at)


@dataclass(frozen=True)
class Phi:
    """The vault's patients' MRNs and names, and where they appear in a text (a URL, a log line):
    an MRN anywhere (any case), a full name, or a name of four letters or more as a whole word. The
    text is read percent- and plus-decoded, as a server or a log reader would."""

    mrns: frozenset[str]
    full_names: frozenset[str]
    names: frozenset[str]
    _pattern: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        words = sorted(self.names | self.full_names, key=len, reverse=True)
        pattern = "|".join([re.escape(m) for m in sorted(self.mrns)] + [rf"(?<!\w){re.escape(w)}(?!\w)" for w in words])
        object.__setattr__(self, "_pattern", re.compile(pattern))

    @classmethod
    def of_export(cls, export: Path) -> "Phi":
        with open(export / "patients.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return cls(frozenset(r["mrn"] for r in rows),
                   frozenset(f"{r['first_name']} {r['last_name']}" for r in rows),
                   frozenset(n for r in rows for n in (r["first_name"], r["last_name"]) if len(n) >= 4))

    def found_in(self, text: str) -> list[str]:
        decoded = unquote_plus(text)
        return sorted({m.group(0) for t in (text, decoded, decoded.upper()) for m in self._pattern.finditer(t)})


@dataclass(frozen=True)
class Office:
    """A built office: its vault home (closed), the export it was loaded from, its staff by role."""

    home: Path
    export: Path
    staff: dict[str, Staff]
    phi: Phi

    def open(self, clock: FixedClock) -> Vault:
        return Vault.open(self.home, clock=clock)


def add_staff(vault: Vault, user: str, roles: tuple[str, ...], by=None, password: str = PASSWORD) -> tuple[Staff, object]:
    """Add a staff account (by an admin's Account; None for a vault's first admin)."""
    enrolment = StaffAccounts(vault).add(user, f"{user.replace('_', ' ').title()} Person", roles, password, by)
    return Staff(user, password, enrolment.otpauth_uri, roles), enrolment.account


def build_office(folder: Path) -> Office:
    """A vault in `folder`/home with November 2026 of a synthetic hospital, reviewed (findings in
    cases), and an account per role named after it ("admin" holds admin only, and so on)."""
    clock = FixedClock(STARTS - timedelta(hours=1))
    vault = create_home(folder / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    try:
        zone = ZoneInfo(ZONE)
        write_hospital(folder / "export", SEED, events=EVENTS, month=MONTH, zone=ZONE)
        choose_timezone(vault, zone)
        ingest_export(vault, folder / "export", zone)
        review_period(vault, month_period(MONTH, zone), load_policy())
        first, admin = add_staff(vault, ADMIN, (ADMIN,))
        staff = {ADMIN: first}
        for role in ROLES:
            if role != ADMIN:
                staff[role] = add_staff(vault, role, (role,), admin)[0]
    finally:
        vault.close()
    return Office(folder / "home", folder / "export", staff, Phi.of_export(folder / "export"))


def copy_office(office: Office, folder: Path) -> Office:
    """A copy of the office's vault in `folder`: a test may change it without touching another's."""
    shutil.copytree(office.home, folder / "home")
    return Office(folder / "home", office.export, office.staff, office.phi)

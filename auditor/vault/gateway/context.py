"""Who is asking, and why: the AccessContext every gateway call takes, the Actor it resolves to, and
the Operator (the operating-system account) that ran the process."""

from __future__ import annotations

import os
import pwd
import socket
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.errors import InputError
from auditor.vault.records import WorkforceMember

SERVICE_PREFIX = "svc:"  # how a service account is named in the audit log: a label, never parsed back
SERVICE_ROLE = "service"  # the role of the vault's own service events (the engine leaves those out)
OWN_SOURCE = "vault"  # the source of the events the vault writes itself: never an export's name


@dataclass(frozen=True)
class AccessContext:
    """user: the account; purpose: HL7 v3 PurposeOfUse code; reason: free text (required to break the
    glass); workstation: the terminal or session; role: optional claim, checked against the account.

    `service_account` is set by `AccessContext.service` (code) and nothing else: a user id that merely
    starts with "svc:" is a workforce account like any other, looked up and refused when unknown."""

    user_id: str
    purpose: str
    reason: str | None = None
    break_glass: bool = False
    workstation: str | None = None
    role: str | None = None
    service_account: str | None = field(default=None, kw_only=True)
    staff: bool = field(default=False, kw_only=True)  # a signed-in member of the office (AccessContext.of_staff)

    def __post_init__(self) -> None:
        if self.service_account is not None and (self.user_id != f"{SERVICE_PREFIX}{self.service_account}"
                                                 or self.role != SERVICE_ROLE):
            raise ValueError("a service context is made by AccessContext.service")
        if self.staff and (self.service_account is not None or not self.role):
            raise ValueError("a staff context names the role it acts in (AccessContext.of_staff)")

    @classmethod
    def of_staff(cls, user_name: str, role: str, purpose: str, workstation: str | None = None,
                 reason: str | None = None) -> "AccessContext":
        """A member of the privacy office, signed in, acting in one of their roles: the gateway checks
        the account and the role in the staff accounts, never the caller's word for them."""
        return cls(user_id=user_name, purpose=purpose, reason=reason, workstation=workstation, role=role, staff=True)

    @classmethod
    def service(cls, name: str, purpose: str = "HOPERAT", reason: str | None = None) -> "AccessContext":
        """The auditor's own service accounts (import, report, roi, retention, cases)."""
        return cls(user_id=f"{SERVICE_PREFIX}{name}", purpose=purpose, reason=reason, role=SERVICE_ROLE,
                   service_account=name)


@dataclass(frozen=True)
class Operator:
    """The operating-system account that ran the command, recorded beside the staff account signed in
    (which the events' details and the office's history rows name). Read from the OS, never from
    $USER or $LOGNAME, which whoever runs the command sets."""

    account: str
    host: str

    @classmethod
    def of_this_process(cls) -> "Operator":
        uid = os.geteuid()
        try:
            account = pwd.getpwuid(uid).pw_name
        except KeyError:  # a uid without a passwd entry (a container's): the number is still the truth
            account = f"uid{uid}"
        return cls(account, socket.gethostname())

    @property
    def stamp(self) -> str:
        """"os:<account>@<host>" (at most 100 characters: POSIX names 32, host names 64)."""
        return f"os:{self.account[:32]}@{self.host[:64]}"


@dataclass(frozen=True)
class Actor:
    user_id: str
    role: str
    workforce_id: int | None = None
    department: str | None = None
    hire_date: date | None = None
    termination_date: date | None = None
    service: str | None = None
    staff: bool = False  # a member of the privacy office (its staff rules apply, not a workforce role's)

    def employment_problem(self, on: date) -> str | None:
        if self.termination_date is not None and on > self.termination_date:
            return f"account terminated on {self.termination_date.isoformat()}"
        if self.hire_date is not None and on < self.hire_date:
            return f"account not active before hire date {self.hire_date.isoformat()}"
        return None

    def claim_problem(self, claimed: str | None) -> str | None:
        """Why a claimed role does not hold (None: no claim, or a true one)."""
        if claimed is not None and claimed != self.role:
            return f"user {self.user_id} claims role {claimed} but holds role {self.role}"
        return None


def export_source(name: str) -> str:
    """An export's source name. The vault's own is refused: the engine tells the vault's service work
    from an EHR's rows by it, so an export named "vault" could hide its rows from the rules."""
    if name.strip().casefold() == OWN_SOURCE:
        raise InputError(f"{OWN_SOURCE!r} is the name of the vault's own events: give the export another source name")
    return name


def normalize_department(name: str | None) -> str | None:
    """Departments compare exactly after trimming and case folding (interchange contract)."""
    return name.strip().casefold() if name and name.strip() else None


def resolve_actor(session: Session, ctx: AccessContext) -> Actor | None:
    """The account behind `ctx`, or None when no such account exists. Only a context made by
    AccessContext.service is a service account; every other user id is looked up in the workforce."""
    if ctx.service_account is not None:
        return Actor(user_id=ctx.user_id, role=SERVICE_ROLE, service=ctx.service_account)
    if ctx.staff:
        return _staff_actor(session, ctx)
    row = session.execute(
        select(WorkforceMember.id, WorkforceMember.role, WorkforceMember.department, WorkforceMember.hire_date,
               WorkforceMember.termination_date).where(WorkforceMember.user_id == ctx.user_id)
    ).first()
    if row is None:
        return None
    return Actor(ctx.user_id, row.role, row.id, row.department, row.hire_date, row.termination_date)




def _staff_actor(session: Session, ctx: AccessContext) -> Actor | None:
    """The staff account `ctx` names, when it is active and holds the role the context acts in."""
    from auditor.vault.records import StaffAccount

    row = session.execute(select(StaffAccount.roles, StaffAccount.disabled_at)
                          .where(StaffAccount.user_name == ctx.user_id)).first()
    if row is None or row.disabled_at is not None or ctx.role not in row.roles.split(","):
        return None
    return Actor(ctx.user_id, ctx.role, staff=True)  # type: ignore[arg-type]

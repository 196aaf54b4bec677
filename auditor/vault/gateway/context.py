"""Who is asking, and why: the AccessContext every gateway call takes, and the Actor it resolves to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.errors import AccessDenied
from auditor.vault.records import WorkforceMember

SERVICE_PREFIX = "svc:"


@dataclass(frozen=True)
class AccessContext:
    """user: the account; purpose: HL7 v3 PurposeOfUse code; reason: free text (required to break the
    glass); workstation: the terminal or session; role: optional claim, checked against the account."""

    user_id: str
    purpose: str
    reason: str | None = None
    break_glass: bool = False
    workstation: str | None = None
    role: str | None = None

    @classmethod
    def service(cls, name: str, purpose: str = "HOPERAT", reason: str | None = None) -> "AccessContext":
        """The auditor's own service accounts (import, report, roi, retention)."""
        return cls(user_id=f"{SERVICE_PREFIX}{name}", purpose=purpose, reason=reason, role="service")


@dataclass(frozen=True)
class Actor:
    user_id: str
    role: str
    workforce_id: int | None = None
    department: str | None = None
    hire_date: date | None = None
    termination_date: date | None = None
    service: str | None = None

    def employment_problem(self, on: date) -> str | None:
        if self.termination_date is not None and on > self.termination_date:
            return f"account terminated on {self.termination_date.isoformat()}"
        if self.hire_date is not None and on < self.hire_date:
            return f"account not active before hire date {self.hire_date.isoformat()}"
        return None


def normalize_department(name: str | None) -> str | None:
    """Departments compare exactly after trimming and case folding (interchange contract)."""
    return name.strip().casefold() if name and name.strip() else None


def resolve_actor(session: Session, ctx: AccessContext) -> Actor | None:
    """The account behind `ctx`, or None when no such account exists."""
    if ctx.user_id.startswith(SERVICE_PREFIX):
        return Actor(user_id=ctx.user_id, role="service", service=ctx.user_id[len(SERVICE_PREFIX):])
    row = session.execute(
        select(WorkforceMember.id, WorkforceMember.role, WorkforceMember.department, WorkforceMember.hire_date,
               WorkforceMember.termination_date).where(WorkforceMember.user_id == ctx.user_id)
    ).first()
    if row is None:
        return None
    actor = Actor(ctx.user_id, row.role, row.id, row.department, row.hire_date, row.termination_date)
    if ctx.role is not None and ctx.role != actor.role:
        raise AccessDenied(f"user {ctx.user_id} claims role {ctx.role} but holds role {actor.role}")
    return actor



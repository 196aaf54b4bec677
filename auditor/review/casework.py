"""The privacy office's casework as use cases: suppressions (add, list, revoke) and cases (the ranked
list, one case's file, review, note, close). Every change and every read of sealed text is one unit
of work of the casework desk (svc:cases), audited; MRNs are read as svc:report.

`by` (and a suppression's `approver`) is the user name of the signed-in staff account that acts (the
CLI's `auditor login`, the web app's session), which the caller has checked holds the role the action
needs: the history rows and the events' details record it; the events' user stays svc:cases."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime

from auditor.cases import listing, workflow
from auditor.cases.listing import CaseFile, CaseSummary
from auditor.cases.settings import CaseSettings
from auditor.home import Vault
from auditor.policy import suppressions as suppression_store
from auditor.policy.suppressions import SuppressionRequest
from auditor.policy.rules import Policy
from auditor.review import triage
from auditor.review.timeline import Timeline, member_timeline
from auditor.vault.gateway.casework import Casework
from auditor.vault.gateway.context import AccessContext
from auditor.vault.gateway.directory import ReportDirectory


@dataclass(frozen=True)
class SuppressionView:
    """A suppression as the office reads it: its status today, the patient's MRN and the reason opened."""

    id: int
    status: str  # active, expired, revoked
    rule: str
    user_id: str | None
    mrn: str | None
    expires_on: date
    approver: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    reason: str | None  # None once its key was destroyed
    proposed_by: str | None = None  # proposed from a case; pending until another officer approves it

    def to_dict(self) -> dict:
        out = asdict(self)
        out["expires"] = out.pop("expires_on").isoformat()
        for name in ("created_at", "revoked_at"):
            out[name] = out[name].isoformat() if out[name] is not None else None
        keys = ("id", "status", "rule", "user_id", "mrn", "expires", "approver", "created_at", "revoked_at",
                "revoked_by", "reason", "proposed_by")
        return {k: out[k] for k in keys}


def add_suppression(vault: Vault, request: SuppressionRequest, known_rules: set[str]) -> int:
    """Record a suppression (refused when its last day is before the organisation's today), and mute its
    findings in the cases not closed (cases_muted_by says where); its id."""
    return suppression_store.add_suppression(Casework(vault.gateway), request, known_rules, vault.today())


def list_suppressions(vault: Vault) -> list[SuppressionView]:
    """Every suppression, newest first, its reason read through the gateway (audited)."""
    entries = suppression_store.list_suppressions(vault.records)
    reasons = suppression_store.suppression_reasons(Casework(vault.gateway), entries)
    mrns = ReportDirectory(vault.gateway).mrns(sorted({e.patient_id for e in entries if e.patient_id}))
    today = vault.today()
    return [SuppressionView(e.id, e.status(today), e.rule, e.user_id, mrns.get(e.patient_id) if e.patient_id else None,
                            e.expires_on, e.approver, e.created_at, e.revoked_at, e.revoked_by, reasons.get(e.id),
                            e.proposed_by) for e in entries]


def propose_suppression(vault: Vault, case_id: int, finding_id: int, reason: str, expires_on: date, by: str) -> int:
    """A case's finding is a false positive: propose muting its rule for its member and patient (pending
    until an officer other than `by` approves it); its id."""
    return suppression_store.propose_suppression(Casework(vault.gateway), case_id, finding_id, reason, expires_on,
                                                 by, vault.today())


def cases_muted_by(vault: Vault, suppression_id: int) -> dict[int, int]:
    """case id -> the findings the suppression mutes there (cases not closed when it became active)."""
    return suppression_store.cases_muted_by(vault.records, suppression_id)


def approve_suppression(vault: Vault, suppression_id: int, by: str) -> dict[int, int]:
    """A proposal approved by `by`: it mutes from now on, in the cases not closed too; case id -> findings
    muted there."""
    return suppression_store.approve_suppression(Casework(vault.gateway), suppression_id, by)


def pending_suppressions(vault: Vault, reader: AccessContext) -> list[SuppressionView]:
    """The proposals awaiting approval, oldest first: reasons opened by the casework desk, the patients
    read through the gateway as `reader` (audited in that person's name)."""
    entries = [e for e in suppression_store.list_suppressions(vault.records) if e.pending and e.revoked_at is None]
    entries.reverse()
    reasons = suppression_store.suppression_reasons(Casework(vault.gateway), entries)
    ids = sorted({e.patient_id for e in entries if e.patient_id is not None})
    people = vault.gateway.read_patients(reader, ids) if ids else {}
    today = vault.today()
    return [SuppressionView(e.id, e.status(today), e.rule, e.user_id,
                            people[e.patient_id].mrn if e.patient_id in people else None, e.expires_on, e.approver,
                            e.created_at, e.revoked_at, e.revoked_by, reasons.get(e.id), e.proposed_by)
            for e in entries]


def revoke_suppression(vault: Vault, suppression_id: int, reason: str, by: str | None = None) -> dict[int, int]:
    """Withdraw a suppression; `by`: the signed-in account (None: recorded as svc:cases, for library use).
    case id -> the findings un-muted there (cases not closed)."""
    return suppression_store.revoke_suppression(Casework(vault.gateway), suppression_id, reason, by)


def list_cases(vault: Vault, settings: CaseSettings, *, status: str | None = None, first_day: date | None = None,
               last_day: date | None = None) -> list[CaseSummary]:
    """Cases in triage order (auditor.review.triage: critical first, then risk); `status` one of the
    statuses or "overdue"; days: the cases whose span meets them. Clear columns only: nothing is opened."""
    return triage.ranked(listing.list_cases(vault.records, settings, vault.clock.now(), status=status,
                                            first_day=first_day, last_day=last_day))


@dataclass(frozen=True)
class ListedCase:
    """A case as `auditor cases list` shows it: its place in triage order, whether it is inside the
    review budget, its highest severity and its rules."""

    rank: int
    case: CaseSummary
    severity: str
    rules: list[str]
    inside_budget: bool

    def to_dict(self) -> dict:
        return {**self.case.to_dict(), "rank": self.rank, "severity": self.severity, "rules": self.rules,
                "inside_budget": self.inside_budget}


def case_listing(vault: Vault, settings: CaseSettings, *, status: str | None = None, first_day: date | None = None,
                 last_day: date | None = None) -> tuple[list[ListedCase], triage.Budget]:
    """list_cases with each case's rank, severity and rules, and the review budget over them (the
    first `review_budget` cases are inside it; the rest are summed up by rule)."""
    cases = list_cases(vault, settings, status=status, first_day=first_day, last_day=last_day)
    ids = [c.id for c in cases]
    rules, severities = listing.rules_of(vault.records, ids), listing.severities_of(vault.records, ids)
    listed = [ListedCase(rank, c, severities.get(c.id, ""), rules.get(c.id, []), rank <= settings.review_budget)
              for rank, c in enumerate(cases, start=1)]
    return listed, triage.Budget.over([c.rules for c in listed], settings.review_budget)


def case_file(vault: Vault, case_id: int, settings: CaseSettings) -> CaseFile:
    """One case: its findings with their sentences and MRNs, its history with the notes (audited reads)."""
    return listing.case_file(Casework(vault.gateway), ReportDirectory(vault.gateway), case_id, settings,
                             vault.clock.now())


@dataclass(frozen=True)
class CasePage:
    """A case as a signed-in member of the office reads it: the file, and the patients its findings
    name ("Last, First (MRN)"), read through the gateway as that person (audited in their name)."""

    file: CaseFile
    patients: dict[int, str]
    opened: bool  # False: the reader's role opens no patient information (clear columns only)
    timeline: Timeline  # the member's accesses over the case's days (auditor.review.timeline)
    reasons: dict[int, str]  # seq -> the break-the-glass reason of an access a finding cites, read as the reader


def case_page(vault: Vault, case_id: int, settings: CaseSettings, reader: AccessContext | None,
              policy: Policy | None = None) -> CasePage:
    """One case for `reader` (None: a role that reads no PHI); `policy`: the rules whose explanations
    the timeline shows (loaded when None; a server loads them once). Sentences and notes are opened by the
    casework desk (audited); the patients, and the break-the-glass reasons of the accesses its findings
    cite, are read as `reader`, so the office's own reads are watched."""
    opened = reader is not None
    file = listing.case_file(Casework(vault.gateway), None, case_id, settings, vault.clock.now(), opened=opened)
    ids = sorted({f.patient_id for f in file.findings if f.patient_id is not None})
    people = vault.gateway.read_patients(reader, ids) if opened and ids else {}
    patients = {pid: f"{p.last_name or ''}, {p.first_name or ''} ({p.mrn})".lstrip(", ") for pid, p in people.items()}
    timeline = member_timeline(vault, file, policy)
    glass = [e.seq for e in timeline.entries if e.cited and e.break_glass and e.reason_on_file]
    reasons = vault.gateway.read_access_reasons(reader, glass) if opened and glass else {}
    return CasePage(file, patients, opened, timeline, reasons)


@dataclass(frozen=True)
class BreakGlassAccess:
    """A break-the-glass access a case's findings cite, with the reason it was logged with, as its reader
    may open it."""

    seq: int
    at: datetime  # local time of the organisation
    action: str
    on_file: bool  # logged with a reason
    reason: str | None  # opened as the reader (None: none on file, or not the reader's to open)

    def to_dict(self) -> dict:
        return {"at": self.at.isoformat(), "action": self.action, "reason_on_file": self.on_file,
                "reason": self.reason}


def break_glass_reasons(vault: Vault, file: CaseFile, reader: AccessContext,
                        policy: Policy | None = None) -> list[BreakGlassAccess]:
    """The break-the-glass accesses the case's findings cite, oldest first, each reason read as `reader`
    through the gateway (a view event in their name: the office's own reads are watched)."""
    timeline = member_timeline(vault, file, policy)
    glass = [e for e in timeline.entries if e.cited and e.break_glass]
    on_file = [e.seq for e in glass if e.reason_on_file]
    reasons = vault.gateway.read_access_reasons(reader, on_file) if on_file else {}
    return [BreakGlassAccess(e.seq, e.at, e.action, e.reason_on_file, reasons.get(e.seq)) for e in glass]


def start_review(vault: Vault, case_id: int, by: str, note: str | None = None) -> None:
    """open -> under_review."""
    workflow.start_review(Casework(vault.gateway), case_id, by, note)


def add_note(vault: Vault, case_id: int, by: str, text: str) -> None:
    workflow.add_note(Casework(vault.gateway), case_id, by, text)


def close_case(vault: Vault, case_id: int, disposition: str, sanction: str, by: str, note: str | None = None) -> None:
    """under_review -> closed, with the disposition and the sanction (45 CFR 164.530(e))."""
    workflow.close_case(Casework(vault.gateway), case_id, disposition, sanction, by, note)

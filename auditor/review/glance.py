"""The month at a glance (the web app's home): what the office's pages would say about a month, read
from what is kept, never by running the rules again. Accesses and the share explained are the ones
the month's last review found (kept in vault_settings by `record_review`; a month never reviewed has
its accesses counted from the audit log as the engine counts them); findings, cases and requests are
the rows already recorded; the log's state is the last verification kept (`record_verification`) and
its latest signed checkpoint.
Each page view then costs a few grouped queries, not a review (issue 16: the home is opened often)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from auditor.audit.checkpoints import Checkpoint
from auditor.audit.verify import Verification
from auditor.cases.listing import list_cases
from auditor.cases.settings import CaseSettings, load_case_settings
from auditor.cases.statistics import findings_recorded_by_month
from auditor.cases.workflow import CLOSED
from auditor.home import Vault
from auditor.policy.access_counts import accesses_by_period
from auditor.policy.frames import Period
from auditor.policy.rules import Policy, load_policy
from auditor.review.release import request_queue
from auditor.vault.gateway import AccessContext
from auditor.vault.records import VaultSetting

REVIEWED = "reviewed {month}"  # a month's last review: {"accesses", "explained_share", "at"}
VERIFIED = "audit_log_verified"  # the log's last verification: {"ok", "size", "problems", "at"}
SEVERITIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class ReviewKept:
    accesses: int
    explained_share: float | None
    at: datetime


@dataclass(frozen=True)
class VerificationKept:
    ok: bool
    size: int
    problems: int
    at: datetime


@dataclass(frozen=True)
class MonthAtAGlance:
    month: str  # YYYY-MM
    accesses: int  # as the month's review counted them, or counted from the log when never reviewed
    review: ReviewKept | None  # None: the month was never reviewed whole
    findings: dict[str, int]  # by severity, recorded in cases, by when their first event happened
    cases_open: int
    cases_overdue: int
    requests_due: int  # open ROI requests due within a week
    requests_overdue: int
    verification: VerificationKept | None  # None: never verified since it was kept
    checkpoint: Checkpoint | None

    @property
    def findings_total(self) -> int:
        return sum(self.findings.values())


def read_setting(vault: Vault, name: str) -> dict | None:
    with vault.records.connect() as conn:
        value = conn.scalar(select(VaultSetting.value).where(VaultSetting.name == name))
    return json.loads(value) if value else None


def _keep(vault: Vault, name: str, doc: dict) -> None:
    """Through the gateway as svc:cases (audited, and in the ledger, so an edited figure is named by
    audit verify)."""
    vault.gateway.set_setting(AccessContext.service("cases"), name, json.dumps(doc, separators=(",", ":")))


def is_whole_month(period: Period) -> bool:
    first = period.first_day
    following = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
    return first.day == 1 and period.last_day.toordinal() == following.toordinal() - 1


def record_review(vault: Vault, period: Period, accesses: int, explained_share: float | None,
                  judged: dict | None = None) -> None:
    """Keep what a review of a whole calendar month found, for the home page (other periods: nothing);
    `judged`: its other figures and what it was judged under (auditor.review.kept_months), so that a
    later report need not judge the month again."""
    if is_whole_month(period):
        _keep(vault, REVIEWED.format(month=period.first_day.strftime("%Y-%m")),
              {**(judged or {}), "accesses": accesses, "explained_share": explained_share,
               "at": vault.clock.now().isoformat()})


def record_verification(vault: Vault, result: Verification) -> None:
    """Keep the outcome of a verification of the whole log (what the home and the audit log page show)."""
    _keep(vault, VERIFIED, {"ok": result.ok, "size": result.size, "problems": len(result.problems),
                            "at": vault.clock.now().isoformat()})


def last_verification(vault: Vault) -> VerificationKept | None:
    doc = read_setting(vault, VERIFIED)
    return None if doc is None else VerificationKept(bool(doc["ok"]), int(doc["size"]), int(doc["problems"]),
                                                     datetime.fromisoformat(doc["at"]))


def month_at_a_glance(vault: Vault, period: Period, *, cases: bool = True, releases: bool = True,
                      policy: Policy | None = None, settings: CaseSettings | None = None) -> MonthAtAGlance:
    """The month `period` at a glance; `cases`/`releases` False: those figures are not read (0), for a
    reader whose roles do not see them."""
    month = period.first_day.strftime("%Y-%m")
    policy = policy or load_policy()
    kept = read_setting(vault, REVIEWED.format(month=month))
    review = None if kept is None else ReviewKept(int(kept["accesses"]), kept["explained_share"],
                                                  datetime.fromisoformat(kept["at"]))
    # a month reviewed: its count as reviewed; else counted from the log (a pass over the month's events)
    accesses = review.accesses if review else accesses_by_period(vault.records, [period], policy,
                                                                 vault.keyring.log_mac_key)[0]
    findings: Counter = Counter()
    opened = overdue = due = late = 0
    if cases:
        findings = findings_recorded_by_month(vault.records, [period])[month]
        summaries = list_cases(vault.records, settings or load_case_settings(), vault.clock.now(),
                               first_day=period.first_day, last_day=period.last_day)
        opened = sum(c.status != CLOSED for c in summaries)
        overdue = sum(c.overdue for c in summaries)
    if releases:
        standing = Counter(e.standing for e in request_queue(vault))
        due, late = standing["due"], standing["overdue"]
    ordered = {s: int(findings.get(s, 0)) for s in SEVERITIES} | {s: int(n) for s, n in findings.items()
                                                                  if s not in SEVERITIES}
    return MonthAtAGlance(month, accesses, review, ordered, opened, overdue, due, late, last_verification(vault),
                          vault.checkpoints.latest_signed(vault.keyring.signing_public_key))

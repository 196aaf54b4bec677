"""Triage: the one order of the privacy office's cases, and the queue the office works from.

`triage_order` is the ranking of every list of cases: the web app's queue, `auditor cases list` and
the monthly report's ranked cases. Critical first (every case with a critical finding above every
case without: a terminated account still opening charts is not weighed against volume), then the
highest risk, then more findings, then the older case. The queue's page is ranked by the database with
the same key written in SQL (auditor.cases.listing.ranked_page; tests/cases/test_ranked_page.py checks
that the two agree, on SQLite and PostgreSQL): a change to one is a change to the other.

The queue filters by rule, severity, the member's department and status, and pages; its filters are
rule ids, severities, statuses and department names: nothing that names a patient."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

from auditor.cases import listing
from auditor.cases.listing import NOT_CLOSED, CaseSummary
from auditor.cases.settings import DEFAULT_REVIEW_BUDGET, CaseSettings
from auditor.cases.workflow import STATUSES
from auditor.errors import InputError
from auditor.home import Vault
from auditor.policy.findings import Finding
from auditor.policy.validation import SEVERITIES
from auditor.reporting.sections import Budget, CaseRanking, case_ranking

PER_PAGE = 25
QUEUE_STATUSES = (NOT_CLOSED, *STATUSES, "overdue", "any")  # the queue's default first: the work in hand


def triage_order(critical: bool, risk: int, findings: int, case_id: int) -> tuple:
    """The sort key of a case: critical first, then the highest risk, more findings, the older case."""
    return (not critical, -risk, -findings, case_id)


def ranked(cases: list[CaseSummary]) -> list[CaseSummary]:
    """Case summaries in triage order."""
    return sorted(cases, key=lambda c: triage_order(c.critical, c.max_risk, c.findings, c.id))


def ranked_finding_groups(groups: dict, tie: Callable = lambda key: key) -> list:
    """The keys of `groups` (a case's findings each) in triage order; `tie`: what stands for the case
    number among equals (the case id; a member's id where findings are in no case yet)."""
    return sorted(groups, key=lambda k: triage_order(any(f.severity == "critical" for f in groups[k]),
                                                     max(f.risk for f in groups[k]), len(groups[k]), tie(k)))


def ranked_report_cases(findings: list[Finding], budget: int = DEFAULT_REVIEW_BUDGET) -> CaseRanking:
    """The monthly report's cases (its unmuted findings grouped by case) in triage order, with the
    review budget of `budget` cases over them."""
    cases: dict[int, list[Finding]] = defaultdict(list)
    for f in findings:
        cases[f.case or 0].append(f)
    return case_ranking([(c, cases[c]) for c in ranked_finding_groups(cases)], budget)


@dataclass(frozen=True)
class TriageFilters:
    """What the queue is narrowed to (None: any)."""

    rule: str | None = None
    severity: str | None = None
    department: str | None = None  # as the rules compare departments: trimmed, case-folded
    status: str = NOT_CLOSED


@dataclass(frozen=True)
class QueueRow:
    case: CaseSummary
    department: str | None
    rules: list[str]
    rank: int = 0  # its place in triage order under the filters (1 = first)
    inside_budget: bool = True  # among the first `review_budget` of them


@dataclass(frozen=True)
class TriageQueue:
    rows: list[QueueRow]  # this page's
    total: int  # cases matching the filters
    page: int
    pages: int
    filters: TriageFilters
    rules: list[str] = field(default_factory=list)  # the choices: rules some case has findings of
    departments: list[str] = field(default_factory=list)  # departments of members with cases
    budget: Budget | None = None  # the review budget over the cases matching the filters


def _checked(filters: TriageFilters, rules: list[str], departments: list[str]) -> None:
    """Refuse a filter value the office could not have chosen (one line, nothing echoed but the value)."""
    for value, allowed, what in ((filters.rule, rules, "rule"), (filters.severity, SEVERITIES, "severity"),
                                 (filters.department, departments, "department"),
                                 (filters.status, QUEUE_STATUSES, "status")):
        if value is not None and value not in allowed:
            raise InputError(f"no {what} {value!r} among the cases")


def triage_queue(vault: Vault, settings: CaseSettings, filters: TriageFilters = TriageFilters(),
                 page: int = 1, per_page: int = PER_PAGE) -> TriageQueue:
    """One page of the cases matching `filters`, in triage order (clear columns only: nothing is
    opened, no patient is read). A page past the last is the last. The database ranks and cuts the
    page (listing.ranked_page: triage_order in SQL), so a page reads 25 cases, not the month's."""
    rules = listing.case_rules(vault.records)
    departments = listing.case_departments(vault.records)
    _checked(filters, rules, list(departments))
    users = None if filters.department is None else listing.members_of(departments[filters.department])
    now = vault.clock.now()
    conditions = listing.filter_conditions(settings, now, status=None if filters.status == "any" else filters.status,
                                           rule=filters.rule, severity=filters.severity, user_ids=users)
    page = max(1, page)
    shown, total = listing.ranked_page(vault.records, settings, now, conditions, (page - 1) * per_page, per_page)
    pages = max(1, math.ceil(total / per_page))
    if page > pages:  # past the last: the last
        page = pages
        shown, _ = listing.ranked_page(vault.records, settings, now, conditions, (page - 1) * per_page, per_page)
    rules_of = listing.rules_of(vault.records, [c.id for c in shown])
    members = listing.member_departments(vault.records, [c.user_id for c in shown])
    first = (page - 1) * per_page + 1
    rows = [QueueRow(c, members.get(c.user_id), rules_of.get(c.id, []), rank, rank <= settings.review_budget)
            for rank, c in enumerate(shown, start=first)]
    past = (listing.ranked_page(vault.records, settings, now, conditions, settings.review_budget,
                                total - settings.review_budget)[0] if total > settings.review_budget else [])
    past_rules = listing.rules_of(vault.records, [c.id for c in past])
    budget = Budget.of(settings.review_budget, total, [past_rules.get(c.id, []) for c in past])
    return TriageQueue(rows, total, page, pages, filters, rules, list(departments), budget)

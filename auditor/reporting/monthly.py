"""The monthly privacy audit report (45 CFR 164.308(a)(1)(ii)(D), information system activity review),
laid out: the template context of reports/monthly.html from what the report states (MonthlyFacts,
gathered by auditor.review.monthly). Every number comes from the same Detection and Finding list that
findings.json holds; nothing here reads the vault, starts a process or verifies anything."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from auditor.audit.verify import Verification
from auditor.cases.statistics import MonthCasework
from auditor.ingest.quarantine import IngestRuns
from auditor.policy.engine import Detection
from auditor.policy.findings import Finding
from auditor.policy.frames import Period
from auditor.policy.rules import SPEC_RULES, Policy
from auditor.reporting import sections
from auditor.reporting.activity import SEVERITIES, activity
from auditor.reporting.casework import casework
from auditor.reporting.charts import Series, bar_chart, column_chart
from auditor.reporting.templates import Site
from auditor.vault.integrity import log_problems, row_problems


@dataclass(frozen=True)
class PreviousMonth:
    """The month before, for the change column: judged again under today's rules, or as its last
    review found it when that still stands for it (auditor.review.kept_months)."""

    period: Period
    accesses: int
    users: int
    patients: int
    explained_share: float | None
    findings: int  # not muted
    reviewed_at: datetime | None = None  # as reviewed then; None: judged again now


@dataclass(frozen=True)
class Trend:
    """The months of the trend, oldest first, ending with the report's month."""

    months: list[Period]
    accesses: list[int]  # per month; the report's own as its run counted them
    recorded: dict[str, Counter]  # 'YYYY-MM' -> findings by severity recorded in cases (earlier months)


@dataclass(frozen=True)
class MonthlyFacts:
    """Everything the monthly report states."""

    period: Period
    detection: Detection
    findings: list[Finding]  # as the report shows them: pseudonymized when asked
    patients: dict[int, str]  # names (or pseudonyms) of the patients in the report's rows
    ranking: sections.CaseRanking  # the cases of the unmuted findings, in triage order (auditor.review.triage)
    trend: Trend
    previous: PreviousMonth | None  # None when the month before has no events
    verification: Verification
    casework: MonthCasework
    ingest: IngestRuns
    author: str | None  # the signed-in privacy officer; None: a program made it without one
    generated_at: datetime
    pseudonymized: bool = False
    # source event id of a listed break-the-glass access logged with a reason -> the reason, read as the
    # report's reader (None: not read: no person reading, a pseudonymized report, or not theirs to open)
    break_glass_reasons: dict[str, str | None] = field(default_factory=dict)


def _trend(trend: Trend, findings: list[Finding]) -> dict:
    labels = [p.first_day.strftime("%b %Y") for p in trend.months]
    keys = [p.first_day.strftime("%Y-%m") for p in trend.months]
    current = Counter(f.severity for f in findings if not f.muted)
    by_month = {**trend.recorded, keys[-1]: current}  # this month as just computed, earlier ones as recorded
    series = [Series(sev, [float(by_month.get(k, Counter()).get(sev, 0)) for k in keys]) for sev in SEVERITIES]
    return {"months": [{"label": lab, "accesses": a, "findings": sum(by_month.get(k, Counter()).values())}
                       for lab, k, a in zip(labels, keys, trend.accesses)],
            "findings_chart": column_chart("Findings per month, by severity", labels, series),
            "accesses_chart": column_chart("Patient accesses per month", labels,
                                           [Series("accesses", [float(a) for a in trend.accesses])])}


def _previous(previous: PreviousMonth | None) -> dict | None:
    if previous is None:
        return None
    p = previous
    return {"label": p.period.first_day.strftime("%B %Y"), "accesses": p.accesses, "users": p.users,
            "patients": p.patients, "explained_share": p.explained_share, "findings": p.findings,
            "reviewed_at": p.reviewed_at}


def verification_section(result: Verification, zone) -> dict:
    """The cover's statement of the log: whether it verifies, its problems (the first ten), whether the
    rows it vouches for are as recorded, and its latest signed checkpoint."""
    cp = result.latest_checkpoint
    log, rows = log_problems(result), row_problems(result)
    return {"ok": result.ok, "log_ok": not log, "rows_ok": not rows, "events": result.size, "root": result.root.hex(),
            "first_bad_seq": result.first_bad_seq,
            "problems": [f"seq {p.seq}: {p.kind}" if p.seq is not None else p.kind for p in log][:10],
            "rows_altered": len(rows), "row_problems": [p.message for p in rows][:10],
            "checkpoint": ({"size": cp.size, "at": sections.local_minute(cp.at, zone), "root": cp.root.hex()}
                           if cp else None)}


def _listed(facts: MonthlyFacts, open_findings: list[Finding]) -> dict:
    """The sections that list findings as rows: the ranked cases and one table per listed rule."""
    ranking = facts.ranking
    show_mrn = not facts.pseudonymized  # the pseudonym stands alone, as in findings.csv's mrn column
    zone = facts.period.tz
    listed = {"cases": sections.ranked_cases(ranking, facts.patients, zone, show_mrn),
              **{rule: sections.rule_rows(sections.of_rule(facts.findings, rule), facts.patients, zone, show_mrn)
                 for rule in sections.LISTED_RULES}}
    reasons = facts.break_glass_reasons
    for row, f in zip(listed["break-glass-review"]["rows"], sections.of_rule(facts.findings, "break-glass-review")):
        row["reasons"] = [reasons[e] for e in f.event_ids if e in reasons]
    return listed


def monthly_context(facts: MonthlyFacts, policy: Policy, site: Site) -> dict:
    """The template context of reports/monthly.html."""
    period = facts.period
    act = activity(facts.detection.context)
    open_findings = [f for f in facts.findings if not f.muted]
    severity = Counter(f.severity for f in open_findings)
    listed = _listed(facts, open_findings)
    by_rule = sections.by_rule(facts.findings, policy, SPEC_RULES)
    return {
        "site": site, "title": "Monthly privacy audit report",
        "period": {"label": period.first_day.strftime("%B %Y"), "first_day": period.first_day,
                   "last_day": period.last_day, "timezone": period.tz.key},
        "author": facts.author,
        "generated_at": facts.generated_at.astimezone(period.tz),
        "pseudonymized": facts.pseudonymized,
        "verification": verification_section(facts.verification, period.tz),
        "summary": {"accesses": act.accesses, "users": act.users, "patients": act.patients,
                    "explained": act.explained, "explained_share": act.explained_share,
                    "events": act.events, "denied": act.denied,
                    "findings": len(open_findings), "muted": len(facts.findings) - len(open_findings),
                    "by_severity": [{"severity": s, "count": severity.get(s, 0)} for s in SEVERITIES],
                    "cases": len({f.case for f in open_findings}),
                    "previous": _previous(facts.previous)},
        "trend": _trend(facts.trend, facts.findings),
        "explained_by": [{"explanation": k.replace("_", " "), "accesses": v, "share": v / act.accesses}
                         for k, v in act.explained_by.items() if v],
        "rules": by_rule,
        "rules_chart": bar_chart("Findings by rule", [(r["id"], r["findings"]) for r in by_rule if r["findings"]]),
        "cases": listed["cases"],
        "break_glass": listed["break-glass-review"],
        "break_glass_counts": {"accesses": act.break_glass, "without_reason": act.break_glass_without_reason},
        "vip": {"accesses": act.vip_accesses, "unexplained": act.vip_unexplained, "findings": listed["vip-access"]},
        "sensitive": {"types": act.sensitive, "findings": listed["sensitive-record-access"]},
        "terminated": listed["terminated-user-access"],
        "casework": casework(facts.casework),
        "completeness": {**sections.completeness(facts.ingest, period.tz), "sources": act.events_by_source,
                         "days_without_events": act.days_without_events},
        "appendix": sections.appendix(policy),
    }

"""The report's sections as plain rows for the templates: findings by rule, ranked cases, one rule's
findings, data completeness, the rule appendix. Long lists are cut at a stated number of rows with
"n more in findings.csv", so a printed report stays readable and nothing is silently left out."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from auditor.ingest.quarantine import IngestRuns
from auditor.policy.findings import Finding
from auditor.policy.rules import Policy

MAX_CASES = 25
CASE_ROWS = 10  # findings shown per case
MAX_ROWS = 50  # per table; findings.csv holds every one
LISTED_RULES = ("break-glass-review", "vip-access", "sensitive-record-access", "terminated-user-access")


def local_minute(moment: str | datetime, zone: ZoneInfo) -> str:
    """An instant (ISO 8601 with its offset, or an aware datetime) as the organisation's wall clock,
    to the minute: the report names its zone once, on the cover."""
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _when(finding: Finding, zone: ZoneInfo) -> str:
    first, last = local_minute(finding.first_at, zone), local_minute(finding.last_at, zone)
    return first if first == last else f"{first} to {last}"


def finding_row(f: Finding, patients: dict[int, str], zone: ZoneInfo, show_mrn: bool = True) -> dict:
    """One finding as a table row, its times local; show_mrn False (a pseudonymized report): the
    patient's pseudonym stands alone."""
    return {"rule": f.rule, "severity": f.severity, "risk": f.risk, "user_id": f.user_id,
            "mrn": (f.mrn or "") if show_mrn else "",
            "patient": patients.get(f.patient_id, "") if f.patient_id is not None else "(several patients)",
            "events": len(f.event_ids), "when": _when(f, zone), "explanation": f.explanation,
            "muted": f.muted, "case": f.case}


def by_rule(findings: list[Finding], policy: Policy, order: tuple[str, ...]) -> list[dict]:
    counts = Counter(f.rule for f in findings if not f.muted)
    muted = Counter(f.rule for f in findings if f.muted)
    severities: dict[str, Counter] = defaultdict(Counter)
    for f in findings:
        if not f.muted:
            severities[f.rule][f.severity] += 1
    ids = [r for r in order if r in policy.rules] + sorted(set(policy.rules) - set(order))
    return [{"id": r, "title": policy.rules[r].title, "description": policy.rules[r].description,
             "severity": policy.rules[r].severity, "status": policy.rules[r].status,
             "citations": list(policy.rules[r].citations), "findings": counts.get(r, 0), "muted": muted.get(r, 0),
             "by_severity": dict(severities[r])} for r in ids]


@dataclass(frozen=True)
class Budget:
    """The review budget over cases in triage order: the first `size` are inside it; those past it are
    summed up by rule (a case counts under each rule it has a finding of)."""

    size: int
    inside: int
    beyond: int
    beyond_by_rule: dict[str, int]

    @classmethod
    def over(cls, ranked_rules: list[list[str]], size: int) -> "Budget":
        """`ranked_rules`: each case's rules, in triage order."""
        return cls.of(size, len(ranked_rules), ranked_rules[size:])

    @classmethod
    def of(cls, size: int, total: int, past_rules: list[list[str]]) -> "Budget":
        """`total` cases in triage order, of which `past_rules` are the rules of those past the budget
        (a reader that pages through the cases reads only those)."""
        past = Counter(rule for rules in past_rules for rule in set(rules))
        return cls(size, min(size, total), max(0, total - size), dict(sorted(past.items(), key=lambda kv: (-kv[1], kv[0]))))

    def to_dict(self) -> dict:
        return {"size": self.size, "inside": self.inside, "beyond": self.beyond,
                "beyond_by_rule": [{"rule": r, "cases": n} for r, n in self.beyond_by_rule.items()]}


@dataclass
class CaseRanking:
    """The cases the report lists, in rank order, each with its findings highest risk first; `total`
    counts every case, listed or not; `budget`: the review budget over all of them."""

    cases: list[tuple[int, list[Finding]]]
    total: int
    budget: Budget


def case_ranking(ordered: list[tuple[int, list[Finding]]], budget: int) -> CaseRanking:
    """Cases in the order given (auditor.review.triage ranks them), each case's findings highest risk
    first; cut at MAX_CASES; the review budget of `budget` cases over the whole order."""
    listed = [(c, sorted(items, key=lambda f: (-f.risk, f.first_at, f.rule))) for c, items in ordered[:MAX_CASES]]
    return CaseRanking(listed, len(ordered), Budget.over([[f.rule for f in items] for _, items in ordered], budget))


def ranked_cases(ranking: CaseRanking, patients: dict[int, str], zone: ZoneInfo, show_mrn: bool = True) -> dict:
    """The ranked cases with their findings' evidence sentences, CASE_ROWS findings each."""
    ranked = [{"rank": rank, "case": case_id, "user_id": items[0].user_id, "findings": len(items),
               "risk": max(f.risk for f in items), "rules": sorted({f.rule for f in items}),
               "rows": [finding_row(f, patients, zone, show_mrn) for f in items[:CASE_ROWS]],
               "more": max(0, len(items) - CASE_ROWS)}
              for rank, (case_id, items) in enumerate(ranking.cases, start=1)]
    return {"rows": ranked, "total": ranking.total, "more": max(0, ranking.total - MAX_CASES),
            "budget": ranking.budget.to_dict()}


def of_rule(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


def rule_rows(findings: list[Finding], patients: dict[int, str], zone: ZoneInfo, show_mrn: bool = True) -> dict:
    """One rule's findings (of_rule), the first MAX_ROWS as rows."""
    return {"rows": [finding_row(f, patients, zone, show_mrn) for f in findings[:MAX_ROWS]], "total": len(findings),
            "more": max(0, len(findings) - MAX_ROWS)}


def shown_patients(ranking: CaseRanking, per_rule: list[list[Finding]]) -> list[int]:
    """The patients named in the report's rows: only their names are read (the rest are in findings.csv
    by MRN), so the report reads hundreds of names, not one per finding."""
    shown = [f for _, items in ranking.cases for f in items[:CASE_ROWS]]
    shown += [f for findings in per_rule for f in findings[:MAX_ROWS]]
    return sorted({f.patient_id for f in shown if f.patient_id is not None})


def completeness(ingest: IngestRuns, zone: ZoneInfo) -> dict:
    """The ingest runs since the period began and the rows they quarantined (by file and reason; the
    rows themselves stay sealed)."""
    return {"ingest_runs": [{"id": r.id, "source": r.source, "started_at": local_minute(r.started_at, zone),
                             "files": _summary(r.summary)} for r in ingest.runs],
            "quarantined": ingest.quarantined,
            "quarantine_reasons": [{"file": f, "reason": why, "rows": n} for f, why, n in ingest.reasons[:MAX_ROWS]]}


def _summary(text: str | None) -> list[dict]:
    try:
        doc = json.loads(text or "{}")
        files = doc.get("files", doc)  # {file: {rows, loaded, already_present, rejected}}
    except (ValueError, AttributeError):
        return []
    return [{"file": name, **{k: v for k, v in counts.items() if isinstance(v, int)}}
            for name, counts in sorted(files.items()) if isinstance(counts, dict)]


def appendix(policy: Policy) -> dict:
    ex = policy.settings.explanations
    return {"rules": [{"id": r.id, "title": r.title, "description": r.description, "severity": r.severity,
                       "status": r.status, "citations": list(r.citations),
                       "parameters": [{"name": k, "value": v} for k, v in r.parameters.items()],
                       "site": r.site_path is not None} for r in policy.rules.values()],
            "windows": {"clinical_before": ex.clinical_days_before, "clinical_after": ex.clinical_days_after,
                        "operational_before": ex.operational_days_before,
                        "operational_after": ex.operational_days_after, "order_before": ex.order_days_before,
                        "order_after": ex.order_days_after, "appointment_after": ex.appointment_days_after,
                        "document_before": ex.document_days_before},
            "operational_roles": sorted(ex.operational_roles),
            # explanation templates the site's privacy officer approved (auditor explain approve)
            "approved_templates": [{"id": a.template.id, "explains": a.template.sentence, "approved_by": a.approved_by,
                                    "approved_on": a.approved_on.isoformat()} for a in ex.approved],
            "sensitive_types": sorted(ex.sensitive_record_types),
            "precedence": list(policy.settings.precedence),
            "expected_gaps": list(policy.settings.expected_gaps)}

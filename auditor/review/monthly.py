"""The monthly privacy audit report as a use case (45 CFR 164.308(a)(1)(ii)(D)): the month reviewed as
`auditor findings` reviews it (muted findings, cases), the log verified in another process meanwhile,
the month before (as its review found it while that stands, else judged again under today's rules:
auditor.review.kept_months), a six-month trend, the casework and the data's completeness, and the
names of the patients in the report's rows read through the gateway (as svc:report, or as the
signed-in person the web app names: audited either way), or their keyed pseudonyms. `auditor report
monthly`, the demo, bench/report.py and the web app call `monthly_report`; reporting/ only lays out
what it gathers, writers write it."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Callable

from auditor.audit.verify import Verification
from auditor.cases.settings import CaseSettings
from auditor.cases.statistics import findings_recorded_by_month, month_casework
from auditor.home import Vault
from auditor.ingest.quarantine import ingest_runs
from auditor.policy.access_counts import accesses_by_period
from auditor.policy.findings import Finding
from auditor.policy.frames import Period
from auditor.policy.rules import Policy
from auditor.policy.suppressions import active_suppressions
from auditor.reporting import sections, writers
from auditor.reporting.monthly import MonthlyFacts, PreviousMonth, Trend, monthly_context
from auditor.reporting.templates import Site
from auditor.review.audit_log import start_log_check
from auditor.review.kept_months import accesses_as_reviewed, month_as_reviewed
from auditor.review.period import Judge, PeriodReview, on_this_machine, preview_period, review_period, shift_month
from auditor.review.triage import ranked_report_cases
from auditor.vault.gateway.context import AccessContext
from auditor.vault.gateway.directory import ReportDirectory

TREND_MONTHS = 6
Progress = Callable[[str], None]  # told each stage as it begins: REVIEWING, then the report's stages
REVIEWING = "reviewing the month: the privacy rules, findings, suppressions, cases"
NAMING = "reading the names in the report"
VERIFYING = "verifying the audit log"  # waiting, if it has not ended, for the check begun with the review


@dataclass(frozen=True)
class Headline:
    """The month at a glance, as the report's summary states it."""

    accesses: int
    explained_share: float | None
    findings: int  # not muted
    cases: int  # the cases those findings are in
    log_verified: bool  # the log and every row it vouches for
    log_intact: bool  # the log itself (its rows may still have been altered behind the gateway)
    rows_altered: int


@dataclass
class MonthlyReport:
    """A monthly report ready to write: its model, the template context laid out from it, and the
    findings its files hold (pseudonymized when asked; the findings recorded in cases keep MRNs)."""

    review: PeriodReview
    facts: MonthlyFacts
    context: dict  # reports/monthly.html's
    site: Site

    @property
    def period(self) -> Period:
        return self.review.period

    @property
    def findings(self) -> list[Finding]:
        return self.facts.findings

    @property
    def verification(self) -> Verification:
        return self.facts.verification

    @property
    def headline(self) -> Headline:
        summary, checked = self.context["summary"], self.context["verification"]
        return Headline(summary["accesses"], summary["explained_share"], summary["findings"], summary["cases"],
                        checked["ok"], checked["log_ok"], checked["rows_altered"])

    def html(self) -> str:
        return writers.render_html(self.site, "monthly.html", self.context)


def trend_months(period: Period) -> list[Period]:
    """The TREND_MONTHS months that end with `period`, oldest first."""
    return [shift_month(period, -k) for k in range(TREND_MONTHS - 1, -1, -1)]


def pseudonymized(vault: Vault, findings: list[Finding]) -> list[Finding]:
    """The findings as a pseudonymized report shows them (report.html, report.pdf, findings.csv,
    findings.json): each MRN replaced by the code of the patient's keyed pseudonym ('K7Q2MZ4A' for
    'Patient K7Q2MZ4A'), the same in every report from this vault and useless without its keyring.
    The findings recorded in cases keep their MRNs; these copies are for the files only."""
    codes: dict[int, str] = {}
    out = []
    for f in findings:
        code = None
        if f.patient_id is not None:
            if f.patient_id not in codes:
                codes[f.patient_id] = vault.indexer.pseudonym(f.patient_id).removeprefix("Patient ")
            code = codes[f.patient_id]
        out.append(replace(f, mrn=code))
    return out


def _patient_labels(vault: Vault, findings: list[Finding], ranking: sections.CaseRanking, pseudonymize: bool,
                    reader: AccessContext | None = None) -> dict[int, str]:
    """The names of the patients in the report's rows (and only those: the rest are in findings.csv by
    MRN), read as `reader` (default svc:report for operations; audited), or their pseudonyms."""
    shown = sections.shown_patients(ranking, [sections.of_rule(findings, r) for r in sections.LISTED_RULES])
    if pseudonymize:
        return {pid: vault.indexer.pseudonym(pid) for pid in shown}
    return ReportDirectory(vault.gateway, reader).patients(shown)


def _break_glass_reasons(vault: Vault, review: PeriodReview, findings: list[Finding], pseudonymize: bool,
                         reader: AccessContext | None) -> dict[str, str | None]:
    """Source event id -> the reason given, for each break-the-glass access the report's table lists
    that was logged with one, read as `reader` (a member of the office: each reason opened is a view
    event in their name). None for a reason not read: no person reads (svc:report opens no reason),
    the report is pseudonymized (a reason may name the patient), or the reader may not open it."""
    listed = sections.of_rule(findings, "break-glass-review")[: sections.MAX_ROWS]
    cited = {e for f in listed for e in f.event_ids}
    events = review.detection.context.events
    with_reason = events[events["event_ref"].isin(cited) & events["has_reason"]]
    seqs = dict(zip(with_reason["seq"].tolist(), with_reason["event_ref"].tolist()))
    opens = reader is not None and not pseudonymize and seqs
    read = vault.gateway.read_access_reasons(reader, sorted(seqs)) if opens else {}
    return {ref: read.get(seq) for seq, ref in seqs.items()}


def _previous(vault: Vault, period: Period, policy: Policy, accesses_before: int,
              judge: Judge = on_this_machine, kept_too: bool = True) -> PreviousMonth | None:
    """The month before as its last review found it, when that still stands for judging it again
    (auditor.review.kept_months) and `kept_too`; else under today's rules, judged by `judge`
    (recording nothing but what the engine records: a cluster's export). None when it has no accesses."""
    if accesses_before == 0:
        return None
    month = shift_month(period, -1)
    kept = month_as_reviewed(vault, month, policy, active_suppressions(vault.records)) if kept_too else None
    if kept is not None:
        return kept
    before = preview_period(vault, month, policy, judge)
    seen = before.activity
    return PreviousMonth(before.period, seen.accesses, seen.users, seen.patients, seen.explained_share,
                         len(before.open_findings))


def trend_accesses(vault: Vault, months: list[Period], policy: Policy, kept_too: bool = True) -> list[int]:
    """Patient accesses in each of `months`: as each month's review counted them while that still
    stands (no event of it appended since) and `kept_too`, the others counted from the log in one pass."""
    kept = [accesses_as_reviewed(vault, month, policy) if kept_too else None for month in months]
    missing = [month for month, n in zip(months, kept) if n is None]
    counted = iter(accesses_by_period(vault.records, missing, policy, vault.keyring.log_mac_key) if missing else [])
    return [n if n is not None else next(counted) for n in kept]


def report_on(vault: Vault, review: PeriodReview, policy: Policy, site: Site, *, author: str | None = None,
              pseudonymize: bool = False, case_settings: CaseSettings | None = None, now: datetime | None = None,
              log_check: Future | None = None, progress: Progress | None = None,
              reader: AccessContext | None = None, judge: Judge = on_this_machine) -> MonthlyReport:
    """The report of a reviewed month (`log_check`: a start_log_check begun before the review; without
    it the log is verified in another process now). `reader`: who reads the names in its rows and the
    break-the-glass reasons (a signed-in person: the web app and the CLI), svc:report when None (then
    no reason is read). `judge`: the engine that judges the month before (the review's own)."""
    tell = progress or (lambda stage: None)
    pending = log_check or start_log_check(vault)
    period = review.period
    findings = pseudonymized(vault, review.findings) if pseudonymize else review.findings
    tell(NAMING)
    ranking = ranked_report_cases([f for f in findings if not f.muted], (case_settings or CaseSettings()).review_budget)
    patients = _patient_labels(vault, findings, ranking, pseudonymize, reader)
    reasons = _break_glass_reasons(vault, review, findings, pseudonymize, reader)
    tell("counting the months of the trend")
    months = trend_months(period)
    # this month's from the review, as the summary states it; a count in SQL would read every event again
    accesses = [*trend_accesses(vault, months[:-1], policy), review.activity.accesses]
    tell(VERIFYING)
    verification = pending.result()
    if not verification.ok:  # the kept reviews may be what was altered: this report trusts none of them
        accesses[:-1] = trend_accesses(vault, months[:-1], policy, kept_too=False)
    tell("the month before")
    previous = _previous(vault, period, policy, accesses[-2], judge, kept_too=verification.ok)
    now = now or vault.clock.now()
    facts = MonthlyFacts(
        period, review.detection, findings, patients, ranking,
        Trend(months, accesses, findings_recorded_by_month(vault.records, months[:-1])), previous, verification,
        month_casework(vault.records, period, case_settings or CaseSettings(), now),
        ingest_runs(vault.records, period.start.to_pydatetime(), max(now, period.end.to_pydatetime())),
        author, now, pseudonymize, reasons)
    return MonthlyReport(review, facts, monthly_context(facts, policy, site), site)


def monthly_report(vault: Vault, period: Period, policy: Policy, site: Site, *, author: str | None = None,
                   pseudonymize: bool = False, case_settings: CaseSettings | None = None,
                   progress: Progress | None = None, reader: AccessContext | None = None,
                   judge: Judge = on_this_machine) -> MonthlyReport:
    """Review `period` (findings into cases, as `auditor findings`) and make its report, the log
    verified in another process while the rules run (`reader`: see report_on; `judge`: the engine
    that runs the rules, this machine's or a cluster's, for the month and the month before)."""
    tell = progress or (lambda stage: None)
    log_check = start_log_check(vault)
    tell(REVIEWING)
    review = review_period(vault, period, policy, judge)
    return report_on(vault, review, policy, site, author=author, pseudonymize=pseudonymize,
                     case_settings=case_settings, log_check=log_check, progress=progress, reader=reader,
                     judge=judge)


def write_monthly_report(report: MonthlyReport, out: Path, *, pdf: bool = True) -> dict[str, Path]:
    """report.html (and report.pdf), findings.csv and findings.json in `out`, placed together or not at
    all (owner-only); the paths by kind."""
    return writers.write_monthly(out, report.html(), report.findings, pdf=pdf, site=report.site)

"""The monthly privacy audit report (45 CFR 164.308(a)(1)(ii)(D), information system activity review):
one policy run over the month, the casework, the log's verification, put in the privacy office's
words for the compliance committee.

`build_monthly` gathers; the templates in reports/ only lay out. Every number in the report comes
from the same Detection and Finding list that findings.json holds."""

from __future__ import annotations

import getpass
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import case, func, or_, select

from auditor.audit import blocks
from auditor.audit.verify import Verification
from auditor.vault.integrity import log_problems, row_problems, verify_vault
from auditor.cases.period import audit_period
from auditor.cases.settings import CaseSettings
from auditor.database import read_snapshot
from auditor.home import Vault
from auditor.policy import engine
from auditor.policy.engine import Detection
from auditor.policy.findings import Finding, NoDirectory, build_findings
from auditor.policy.frames import Period, load_frames
from auditor.policy.rules import SPEC_RULES, Policy
from auditor.policy.suppressions import active_suppressions, mute
from auditor.reporting import sections
from auditor.reporting.activity import SEVERITIES, activity
from auditor.reporting.casework import casework, recorded_findings
from auditor.reporting.charts import Series, bar_chart, column_chart
from auditor.reporting.templates import Site
from auditor.vault.gateway.context import OWN_SOURCE, SERVICE_ROLE
from auditor.vault.gateway.directory import ReportDirectory

TREND_MONTHS = 6


@dataclass
class MonthlyRun:
    """The policy run a report is about: the period, what the engine saw, and the findings."""

    period: Period
    detection: Detection
    findings: list[Finding]


def month_period(month: str, tz: ZoneInfo) -> Period:
    """'2026-11' -> the local days 2026-11-01 to 2026-11-30 in the organisation's time zone."""
    from auditor.errors import InputError

    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise InputError(f"--month {month!r} is not YYYY-MM") from None
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return Period(first, date.fromordinal(following.toordinal() - 1), tz)


def shift_month(period: Period, months: int) -> Period:
    index = period.first_day.year * 12 + period.first_day.month - 1 + months
    return month_period(f"{index // 12:04d}-{index % 12 + 1:02d}", period.tz)


def run_policy(vault: Vault, period: Period, policy: Policy, directory=None) -> MonthlyRun:
    """The rules over the period, suppressions applied; nothing recorded (the previous month's column)."""
    detection = engine.run(load_frames(vault.records, period, policy.lookback(), log_key=vault.keyring.log_mac_key),
                           policy)
    found = build_findings(detection, policy, directory or NoDirectory())
    mute(found, active_suppressions(vault.records), period.tz)
    return MonthlyRun(period, detection, found)


def audit_month(vault: Vault, period: Period, policy: Policy) -> MonthlyRun:
    """The month's audit as `auditor findings` runs it: suppressions mute, the rest go into cases."""
    result = audit_period(vault.gateway, period, policy)
    return MonthlyRun(period, result.detection, result.findings)


def trend_months(period: Period) -> list[Period]:
    """The TREND_MONTHS months that end with `period`, oldest first."""
    return [shift_month(period, -k) for k in range(TREND_MONTHS - 1, -1, -1)]


def accesses_by_month(vault: Vault, periods: list[Period], policy: Policy) -> list[int]:
    """Successful patient accesses by workforce accounts in each period (as the engine counts its
    accesses), counted in SQL in one pass over the rows of the log (it has no index on time alone),
    and in one pass over the blocks of imported events that reach the months."""
    from auditor.audit.schema import AuditEventRow as E

    bounds = [(int(p.start.value // 1000), int(p.end.value // 1000)) for p in periods]
    month = case(*[((E.at_us >= lo) & (E.at_us < hi), i) for i, (lo, hi) in enumerate(bounds)], else_=None)
    stmt = (select(month, func.count())
            .where(E.at_us >= min(lo for lo, _ in bounds), E.at_us < max(hi for _, hi in bounds),
                   E.outcome == "success", E.patient_id.is_not(None),
                   E.action.in_(sorted(policy.settings.access_actions)), E.user_id.is_not(None),
                   or_(E.source != OWN_SOURCE, E.role.is_(None), E.role != SERVICE_ROLE))  # not service work
            .group_by(month))
    counted = Counter()
    with vault.records.connect() as conn:
        read_snapshot(conn)
        counted.update({i: int(n) for i, n in conn.execute(stmt) if i is not None})
        lows = np.array([lo for lo, _ in bounds], dtype=np.int64)
        highs = np.array([hi for _, hi in bounds], dtype=np.int64)
        actions = pa.array(sorted(policy.settings.access_actions), pa.string())
        for t in blocks.events_between(conn, int(lows.min()), int(highs.max()), vault.keyring.log_mac_key):  # the same test, on blocks
            service = pc.and_(pc.equal(t["source"], OWN_SOURCE), pc.fill_null(pc.equal(t["role"], SERVICE_ROLE), False))
            counted_here = pc.and_(pc.and_(pc.equal(t["outcome"], "success"), pc.is_valid(t["patient_id"])),
                                   pc.and_(pc.is_in(t["action"], value_set=actions),
                                           pc.and_(pc.is_valid(t["user_id"]), pc.invert(service))))
            at = t["at_us"].filter(counted_here).to_numpy()
            month_of = np.searchsorted(lows, at, side="right") - 1
            inside = (month_of >= 0) & (at < highs[np.clip(month_of, 0, None)])
            counted.update(Counter(month_of[inside].tolist()))
    return [counted.get(i, 0) for i in range(len(periods))]


def _trend(vault: Vault, run: MonthlyRun, periods: list[Period], accesses: list[int]) -> dict:
    recorded = recorded_findings(vault, periods[:-1])
    labels = [p.first_day.strftime("%b %Y") for p in periods]
    keys = [p.first_day.strftime("%Y-%m") for p in periods]
    current = Counter(f.severity for f in run.findings if not f.muted)
    by_month = {**recorded, keys[-1]: current}  # this month as just computed, earlier ones as recorded
    series = [Series(sev, [float(by_month.get(k, Counter()).get(sev, 0)) for k in keys]) for sev in SEVERITIES]
    return {"months": [{"label": lab, "accesses": a, "findings": sum(by_month.get(k, Counter()).values())}
                       for lab, k, a in zip(labels, keys, accesses)],
            "findings_chart": column_chart("Findings per month, by severity", labels, series),
            "accesses_chart": column_chart("Patient accesses per month", labels,
                                           [Series("accesses", [float(a) for a in accesses])])}


def _previous(vault: Vault, run: MonthlyRun, policy: Policy, accesses_before: int) -> dict | None:
    """The month before, run under today's rules, for the change column; None when it has no events."""
    if accesses_before == 0:
        return None
    before = shift_month(run.period, -1)
    prev = run_policy(vault, before, policy)
    a = activity(prev.detection.context)
    return {"label": before.first_day.strftime("%B %Y"), "accesses": a.accesses, "users": a.users,
            "patients": a.patients, "explained_share": a.explained_share,
            "findings": sum(1 for f in prev.findings if not f.muted)}


@dataclass(frozen=True)
class _LogKeys:
    """What verify_log needs of the keyring, to send to another process (never the keyring file)."""

    signing_public_key: bytes
    log_mac_key: bytes


def _verify_elsewhere(url: str, keys: _LogKeys, checkpoint_files: list) -> Verification:
    from auditor import database

    engine = database.connect(url)
    try:
        return verify_vault(engine, keys, checkpoint_files)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def start_verification(vault: Vault) -> Future:
    """Verify the whole log in another process while the rules run here: the check grows with the
    log, not the month, and the cover must state its result. A fresh (spawned) process, so its own
    worker processes are forked from a single-threaded parent."""
    if vault.records.url.database in (None, "", ":memory:"):  # a database only this process can see
        done: Future = Future()
        done.set_result(verify_vault(vault.records, vault.keyring, [vault.checkpoints.path]))
        return done
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    keys = _LogKeys(vault.keyring.signing_public_key, vault.keyring.log_mac_key)
    future = pool.submit(_verify_elsewhere, vault.records.url.render_as_string(hide_password=False), keys,
                         [vault.checkpoints.path])
    pool.shutdown(wait=False)
    return future


def _verification(vault: Vault, pending: Future | None) -> dict:
    result: Verification = pending.result() if pending else verify_vault(vault.records, vault.keyring,
                                                                         [vault.checkpoints.path])
    cp = result.latest_checkpoint
    log, rows = log_problems(result), row_problems(result)
    return {"ok": result.ok, "log_ok": not log, "rows_ok": not rows, "events": result.size, "root": result.root.hex(),
            "first_bad_seq": result.first_bad_seq,
            "problems": [f"seq {p.seq}: {p.kind}" if p.seq is not None else p.kind for p in log][:10],
            "rows_altered": len(rows), "row_problems": [p.message for p in rows][:10],
            "checkpoint": ({"size": cp.size, "at": cp.at, "root": cp.root.hex()} if cp else None)}


def _patient_labels(vault: Vault, patient_ids: list[int], pseudonymize: bool) -> dict[int, str]:
    if pseudonymize:
        return {pid: vault.indexer.pseudonym(pid) for pid in patient_ids}
    return ReportDirectory(vault.gateway).patients(patient_ids)  # read as svc:report for operations: audited


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


def _listed(vault: Vault, run: MonthlyRun, open_findings: list[Finding], pseudonymize: bool) -> dict:
    """The sections that list findings as rows: the ranked cases and one table per listed rule, with
    the names of the patients in those rows (and only those) read through the gateway."""
    ranking = sections.rank_cases(open_findings)
    per_rule = {rule: sections.of_rule(run.findings, rule) for rule in sections.LISTED_RULES}
    patients = _patient_labels(vault, sections.shown_patients(ranking, list(per_rule.values())), pseudonymize)
    show_mrn = not pseudonymize  # the pseudonym stands alone, as in findings.csv's mrn column
    return {"cases": sections.ranked_cases(ranking, patients, show_mrn),
            **{rule: sections.rule_rows(found, patients, show_mrn) for rule, found in per_rule.items()}}


def build_monthly(vault: Vault, run: MonthlyRun, policy: Policy, site: Site, *, author: str | None = None,
                  pseudonymize: bool = False, case_settings: CaseSettings | None = None,
                  now: datetime | None = None, verification: Future | None = None) -> dict:
    """The template context of reports/monthly.html for one policy run (`verification`: a
    start_verification begun before the run; without it the log is verified here). With
    `pseudonymize`, write `pseudonymized(vault, run.findings)` as the report's findings files."""
    now = now or datetime.now(timezone.utc)
    if pseudonymize:
        run = MonthlyRun(run.period, run.detection, pseudonymized(vault, run.findings))
    act = activity(run.detection.context)
    open_findings = [f for f in run.findings if not f.muted]
    severity = Counter(f.severity for f in open_findings)
    listed = _listed(vault, run, open_findings, pseudonymize)
    by_rule = sections.by_rule(run.findings, policy, SPEC_RULES)
    months = trend_months(run.period)
    # this month's from the run itself, as the summary states it; a count in SQL would read every event again
    accesses = [*accesses_by_month(vault, months[:-1], policy), act.accesses]
    return {
        "site": site, "title": "Monthly privacy audit report",
        "period": {"label": run.period.first_day.strftime("%B %Y"), "first_day": run.period.first_day,
                   "last_day": run.period.last_day, "timezone": run.period.tz.key},
        "author": author or getpass.getuser(),
        "generated_at": now.astimezone(run.period.tz),
        "pseudonymized": pseudonymize,
        "verification": _verification(vault, verification),
        "summary": {"accesses": act.accesses, "users": act.users, "patients": act.patients,
                    "explained": act.explained, "explained_share": act.explained_share,
                    "events": act.events, "denied": act.denied,
                    "findings": len(open_findings), "muted": len(run.findings) - len(open_findings),
                    "by_severity": [{"severity": s, "count": severity.get(s, 0)} for s in SEVERITIES],
                    "cases": len({f.case for f in open_findings}),
                    "previous": _previous(vault, run, policy, accesses[-2])},
        "trend": _trend(vault, run, months, accesses),
        "explained_by": [{"explanation": k.replace("_", " "), "accesses": v} for k, v in act.explained_by.items()],
        "rules": by_rule,
        "rules_chart": bar_chart("Findings by rule", [(r["id"], r["findings"]) for r in by_rule if r["findings"]]),
        "cases": listed["cases"],
        "break_glass": listed["break-glass-review"],
        "break_glass_counts": {"accesses": act.break_glass, "without_reason": act.break_glass_without_reason},
        "vip": {"accesses": act.vip_accesses, "unexplained": act.vip_unexplained, "findings": listed["vip-access"]},
        "sensitive": {"types": act.sensitive, "findings": listed["sensitive-record-access"]},
        "terminated": listed["terminated-user-access"],
        "casework": casework(vault, run.period, case_settings or CaseSettings(), now),
        "completeness": {**sections.completeness(vault, run.period), "sources": act.events_by_source,
                         "days_without_events": act.days_without_events},
        "appendix": sections.appendix(policy),
    }

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
from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from auditor.audit.verify import Verification, verify_log
from auditor.cases.period import audit_period
from auditor.cases.settings import CaseSettings
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
    detection = engine.run(load_frames(vault.records, period, policy.lookback()), policy)
    found = build_findings(detection, policy, directory or NoDirectory())
    mute(found, active_suppressions(vault.records), period.tz)
    return MonthlyRun(period, detection, found)


def audit_month(vault: Vault, period: Period, policy: Policy) -> MonthlyRun:
    """The month's audit as `auditor findings` runs it: suppressions mute, the rest go into cases."""
    result = audit_period(vault.gateway, period, policy)
    return MonthlyRun(period, result.detection, result.findings)


def _accesses_in(vault: Vault, period: Period, policy: Policy) -> int:
    """Successful patient accesses by workforce accounts in the period, counted in SQL (for the trend)."""
    from auditor.audit.schema import AuditEventRow as E

    lo, hi = int(period.start.value // 1000), int(period.end.value // 1000)
    stmt = select(func.count()).where(E.at_us >= lo, E.at_us < hi, E.outcome == "success",
                                      E.patient_id.is_not(None), E.action.in_(sorted(policy.settings.access_actions)),
                                      ~E.user_id.startswith("svc:"))
    with vault.records.connect() as conn:
        return int(conn.scalar(stmt) or 0)


def _trend(vault: Vault, run: MonthlyRun, policy: Policy) -> dict:
    periods = [shift_month(run.period, -k) for k in range(TREND_MONTHS - 1, -1, -1)]
    recorded = recorded_findings(vault, periods[:-1])
    labels = [p.first_day.strftime("%b %Y") for p in periods]
    keys = [p.first_day.strftime("%Y-%m") for p in periods]
    accesses = [_accesses_in(vault, p, policy) for p in periods]
    current = Counter(f.severity for f in run.findings if not f.muted)
    by_month = {**recorded, keys[-1]: current}  # this month as just computed, earlier ones as recorded
    series = [Series(sev, [float(by_month.get(k, Counter()).get(sev, 0)) for k in keys]) for sev in SEVERITIES]
    return {"months": [{"label": lab, "accesses": a, "findings": sum(by_month.get(k, Counter()).values())}
                       for lab, k, a in zip(labels, keys, accesses)],
            "findings_chart": column_chart("Findings per month, by severity", labels, series),
            "accesses_chart": column_chart("Patient accesses per month", labels,
                                           [Series("accesses", [float(a) for a in accesses])])}


def _previous(vault: Vault, run: MonthlyRun, policy: Policy) -> dict | None:
    """The month before, run under today's rules, for the change column; None when it has no events."""
    before = shift_month(run.period, -1)
    if _accesses_in(vault, before, policy) == 0:
        return None
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
        return verify_log(engine, keys, checkpoint_files)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def start_verification(vault: Vault) -> Future:
    """Verify the whole log in another process while the rules run here: the check grows with the
    log, not the month, and the cover must state its result. A fresh (spawned) process, so its own
    worker processes are forked from a single-threaded parent."""
    if vault.records.url.database in (None, "", ":memory:"):  # a database only this process can see
        done: Future = Future()
        done.set_result(verify_log(vault.records, vault.keyring, [vault.checkpoints.path]))
        return done
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    keys = _LogKeys(vault.keyring.signing_public_key, vault.keyring.log_mac_key)
    future = pool.submit(_verify_elsewhere, vault.records.url.render_as_string(hide_password=False), keys,
                         [vault.checkpoints.path])
    pool.shutdown(wait=False)
    return future


def _verification(vault: Vault, pending: Future | None) -> dict:
    result: Verification = pending.result() if pending else verify_log(vault.records, vault.keyring,
                                                                       [vault.checkpoints.path])
    cp = result.latest_checkpoint
    return {"ok": result.ok, "events": result.size, "root": result.root.hex(), "first_bad_seq": result.first_bad_seq,
            "problems": [f"seq {p.seq}: {p.kind}" if p.seq is not None else p.kind for p in result.problems][:10],
            "checkpoint": ({"size": cp.size, "at": cp.at, "root": cp.root.hex()} if cp else None)}


def _patient_labels(vault: Vault, findings: list[Finding], pseudonymize: bool) -> dict[int, str]:
    ids = sorted({f.patient_id for f in findings if f.patient_id is not None})
    if pseudonymize:
        return {pid: vault.indexer.pseudonym(pid) for pid in ids}
    return ReportDirectory(vault.gateway).patients(ids)  # read as svc:report for operations: audited


def build_monthly(vault: Vault, run: MonthlyRun, policy: Policy, site: Site, *, author: str | None = None,
                  pseudonymize: bool = False, case_settings: CaseSettings | None = None,
                  now: datetime | None = None, verification: Future | None = None) -> dict:
    """The template context of reports/monthly.html for one policy run (`verification`: a
    start_verification begun before the run; without it the log is verified here)."""
    now = now or datetime.now(timezone.utc)
    act = activity(run.detection.context)
    open_findings = [f for f in run.findings if not f.muted]
    severity = Counter(f.severity for f in open_findings)
    patients = _patient_labels(vault, run.findings, pseudonymize)
    by_rule = sections.by_rule(run.findings, policy, SPEC_RULES)
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
                    "previous": _previous(vault, run, policy)},
        "trend": _trend(vault, run, policy),
        "explained_by": [{"explanation": k.replace("_", " "), "accesses": v} for k, v in act.explained_by.items()],
        "rules": by_rule,
        "rules_chart": bar_chart("Findings by rule", [(r["id"], r["findings"]) for r in by_rule if r["findings"]]),
        "cases": sections.ranked_cases(open_findings, patients),
        "break_glass": sections.rule_rows(run.findings, "break-glass-review", patients),
        "break_glass_counts": {"accesses": act.break_glass, "without_reason": act.break_glass_without_reason},
        "vip": {"accesses": act.vip_accesses, "unexplained": act.vip_unexplained,
                "findings": sections.rule_rows(run.findings, "vip-access", patients)},
        "sensitive": {"types": act.sensitive,
                      "findings": sections.rule_rows(run.findings, "sensitive-record-access", patients)},
        "terminated": sections.rule_rows(run.findings, "terminated-user-access", patients),
        "casework": casework(vault, run.period, case_settings or CaseSettings(), now),
        "completeness": {**sections.completeness(vault, run.period), "sources": act.events_by_source,
                         "days_without_events": act.days_without_events},
        "appendix": sections.appendix(policy),
    }

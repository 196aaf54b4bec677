"""Reviewing a period: the privacy rules over the audit log, the findings (names read through the
gateway as svc:report), the suppressions muting some (kept, marked), and the rest put into their
members' cases. `auditor findings`, the monthly report, the demo, the benchmarks and the web app all
review a period here. A preview (the previous month of a report) records nothing and reads no name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Callable
from zoneinfo import ZoneInfo

from auditor.cases.attach import Attachment, attach_findings
from auditor.errors import InputError
from auditor.home import Vault
from auditor.memory import no_cycle_collection
from auditor.policy import engine
from auditor.policy.engine import Detection
from auditor.policy.findings import Finding, NoDirectory, build_findings
from auditor.policy.frames import Period, load_frames
from auditor.policy.rules import Policy
from auditor.policy.suppressions import active_suppressions, mute
from auditor.reporting.activity import Activity, activity
from auditor.review.glance import is_whole_month, record_review
from auditor.review.kept_months import judged_under, log_size
from auditor.review.timeline import ReviewedAccesses
from auditor.vault.gateway.casework import Casework
from auditor.vault.gateway.directory import ReportDirectory


@dataclass
class PeriodReview:
    """What a review of a period found: the engine's detection (its context holds every access it
    judged), the findings ranked by member (muted ones kept), and what went into cases."""

    period: Period
    detection: Detection
    findings: list[Finding]
    muted: int
    attachment: Attachment | None  # None for a preview: nothing recorded

    @property
    def open_findings(self) -> list[Finding]:
        return [f for f in self.findings if not f.muted]

    @property
    def cases(self) -> int:
        """How many cases the findings are in."""
        return len({f.case for f in self.findings if f.case is not None})

    @property
    def accesses(self) -> int:
        """Patient accesses the engine judged in the period."""
        return self.detection.context.judged

    @cached_property
    def activity(self) -> Activity:
        """The period's activity as the report states it (worked out once: the review keeps some of it)."""
        return activity(self.detection.context)

    @property
    def explained_share(self) -> float | None:
        """The share of the accesses the treatment data explains (None: no access to explain)."""
        return self.detection.context.explained_share

    @property
    def explained_by_share(self) -> dict[str, float]:
        """Each explanation -> the share of the period's patient accesses it is the first to explain."""
        return self.detection.context.explained_by_share

    @property
    def part_over_bound(self) -> tuple[int, int] | None:
        """(events, bound) when an engine judging in partitions held a part of more events than the
        bound it splits roles by (a role the workforce file gives no departments, one large peer group,
        a role's rest: what the bound cannot cut); None otherwise."""
        largest = self.detection.context.largest_part
        return largest if largest is not None and largest[0] > largest[1] else None

    @property
    def unsealed_blocks(self) -> list:
        """Blocks of the log whose header does not verify (their events were read by their own times)."""
        return list(self.detection.context.frames.unsealed_blocks)


Judge = Callable[[Vault, Period, Policy], Detection]  # an engine: the local one, or a cluster (auditor.review.month_export.OnSpark)


def on_this_machine(vault: Vault, period: Period, policy: Policy) -> Detection:
    frames = load_frames(vault.records, period, policy.lookback(), log_key=vault.keyring.log_mac_key)
    return engine.run(frames, policy)


def review_period(vault: Vault, period: Period, policy: Policy, judge: Judge = on_this_machine) -> PeriodReview:
    """Review `period` as `auditor findings` does: suppressions mute, the other findings go into their
    members' cases (reruns add nothing, but give a case reviewed before r0017 its kept timeline); each
    finding's `case` is then its case's id. Each case keeps the member's accesses around the findings
    attached now, cut from the accesses this review judged (the case page's timeline). `judge`: which
    engine runs the rules."""
    size, suppressions = log_size(vault), active_suppressions(vault.records)  # before the rules read the log
    detection = judge(vault, period, policy)
    with no_cycle_collection():  # the findings, their rows and cuts: a fifth of the time at 10M was the collector's
        found = build_findings(detection, policy, ReportDirectory(vault.gateway))
        muted = mute(found, suppressions, period.tz)
        timelines = ReviewedAccesses.of_review(vault, period, detection.context.accesses, policy)
        attachment = attach_findings(Casework(vault.gateway), found, period.first_day, period.last_day, timelines.cuts)
    done = PeriodReview(period, detection, found, muted, attachment)
    # for the home page, and for a later report's month before and trend (a whole month's): neither judges it again
    judged = (judged_under(period, policy, suppressions, size, done.activity.users, done.activity.patients,
                           len(done.open_findings)) if is_whole_month(period) else None)
    record_review(vault, period, done.accesses, done.explained_share, judged)
    return done


def preview_period(vault: Vault, period: Period, policy: Policy, judge: Judge = on_this_machine) -> PeriodReview:
    """The rules over `period` with suppressions applied, recording nothing (but what `judge` records:
    a cluster's export) and reading no name (user ids stand in for names, no MRN): a report's month
    before, under today's rules."""
    detection = judge(vault, period, policy)
    with no_cycle_collection():
        found = build_findings(detection, policy, NoDirectory())
        muted = mute(found, active_suppressions(vault.records), period.tz)
    return PeriodReview(period, detection, found, muted, None)


def days(vault: Vault, first_day: date, last_day: date) -> Period:
    """The local days first_day..last_day in the organisation's time zone."""
    if last_day < first_day:
        raise InputError("--to is before --from")
    return Period(first_day, last_day, vault.timezone)


def month_period(month: str, tz: ZoneInfo) -> Period:
    """'2026-11' -> the local days 2026-11-01 to 2026-11-30 in `tz`."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise InputError(f"--month {month!r} is not YYYY-MM") from None
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return Period(first, date.fromordinal(following.toordinal() - 1), tz)


def shift_month(period: Period, months: int) -> Period:
    """The calendar month `months` after (or before) the month `period` starts in."""
    index = period.first_day.year * 12 + period.first_day.month - 1 + months
    return month_period(f"{index // 12:04d}-{index % 12 + 1:02d}", period.tz)

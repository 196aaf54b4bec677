"""A month's review kept for the reports after it (auditor.review.kept_months): the month before is
not judged again, nor its accesses counted from the log again, while its review still stands for
it; an event of it appended since, other rules or other suppressions, and it is. Runs on SQLite and
on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from auditor.policy.rules import load_policy
from auditor.policy.suppressions import SuppressionRequest, add_suppression
from auditor.reporting.activity import activity
from auditor.reporting.templates import load_site
from auditor.review.audit_log import sign_checkpoint
from auditor.review.glance import record_review
from auditor.review.kept_months import judged_under, log_size
from auditor.review.monthly import monthly_report
from auditor.review.period import month_period, on_this_machine, preview_period, review_period
from auditor.vault.gateway.casework import Casework
from tests.reporting.report_data import hospital_month, late_event


@pytest.fixture
def hospital(vault):
    hospital_month(vault)
    sign_checkpoint(vault)  # as an ingest ends
    return vault


def _report(vault, policy, judged: list[str]):
    def judge(v, period, p):  # the local engine, each month it is asked to judge noted
        judged.append(period.first_day.strftime("%Y-%m"))
        return on_this_machine(v, period, p)
    return monthly_report(vault, month_period("2026-11", vault.timezone), policy, load_site(None), judge=judge)


def _october(vault):
    return month_period("2026-10", vault.timezone)


def _keep_october(vault, policy, **figures) -> None:
    """A review of October kept with figures no judging would give, so the report shows which it used."""
    f = dict(accesses=1234, users=7, patients=8, findings=9) | figures
    record_review(vault, _october(vault), f["accesses"], 0.25,
                  judged_under(_october(vault), policy, [], log_size(vault), f["users"], f["patients"], f["findings"]))


def test_the_month_before_as_its_review_found_it_is_not_judged_again(hospital):
    policy = load_policy()
    again = preview_period(hospital, _october(hospital), policy)  # what judging October again gives
    review_period(hospital, _october(hospital), policy)
    judged: list[str] = []
    report = _report(hospital, policy, judged)
    assert judged == ["2026-11"]
    previous, seen = report.facts.previous, activity(again.detection.context)
    assert str(previous.reviewed_at.tzinfo) == "America/New_York"  # the organisation's day, as the report states times
    assert ((previous.accesses, previous.users, previous.patients, previous.explained_share, previous.findings)
            == (seen.accesses, seen.users, seen.patients, seen.explained_share, len(again.open_findings)))
    assert report.facts.trend.accesses[-2] == seen.accesses == 1
    assert "October 2026 as its review of 2026-11-02 found it" in report.html()


def test_the_kept_figures_are_the_ones_shown(hospital):
    policy = load_policy()
    _keep_october(hospital, policy)
    judged: list[str] = []
    report = _report(hospital, policy, judged)
    previous = report.facts.previous
    assert judged == ["2026-11"] and report.facts.trend.accesses[-2] == 1234
    assert (previous.accesses, previous.users, previous.patients, previous.explained_share, previous.findings) == (
        1234, 7, 8, 0.25, 9)


def test_an_event_of_the_month_appended_since_its_review_has_it_judged_and_counted_again(hospital):
    policy = load_policy()
    _keep_october(hospital, policy)
    late_event(hospital)
    judged: list[str] = []
    report = _report(hospital, policy, judged)
    assert judged == ["2026-11", "2026-10"]
    assert report.facts.previous.reviewed_at is None and report.facts.previous.accesses == 1
    assert report.facts.trend.accesses[-2] == 1  # counted from the log: the late event is no patient access
    assert "October 2026 judged again under today's rules and suppressions" in report.html()


def test_other_rules_have_the_month_judged_again_and_the_trend_keeps_its_count(hospital):
    policy = load_policy()
    _keep_october(hospital, policy)
    changed = load_policy()
    changed.rules["after-hours"].parameters["tolerance_minutes"] = 61
    judged: list[str] = []
    report = _report(hospital, changed, judged)
    assert judged == ["2026-11", "2026-10"] and report.facts.previous.accesses == 1
    assert report.facts.trend.accesses[-2] == 1234  # the same actions count as accesses
    more = replace(changed, settings=replace(changed.settings, access_actions=changed.settings.access_actions | {"sign"}))
    assert _report(hospital, more, []).facts.trend.accesses[-2] == 1  # other actions: counted from the log


def test_a_suppression_added_since_has_the_month_judged_again(hospital):
    policy = load_policy()
    _keep_october(hospital, policy)
    add_suppression(Casework(hospital.gateway), SuppressionRequest("family-access", "her guardian", date(2026, 12, 31),
                                                                   "Chief Privacy Officer", "n.muller", "P-FAM"),
                    set(policy.rules), date(2026, 11, 2))
    judged: list[str] = []
    _report(hospital, policy, judged)
    assert judged == ["2026-11", "2026-10"]


def test_a_review_kept_before_its_judging_was_is_not_taken_for_the_month(hospital):
    """A vault reviewed before these figures were kept: its accesses serve the home page only."""
    policy = load_policy()
    record_review(hospital, _october(hospital), 1234, 0.25)
    judged: list[str] = []
    report = _report(hospital, policy, judged)
    assert judged == ["2026-11", "2026-10"]
    assert report.facts.previous.accesses == report.facts.trend.accesses[-2] == 1


def test_a_month_reviewed_in_another_time_zone_is_judged_and_counted_again(hospital):
    """Its days began at other instants: the review's figures are not this month's."""
    policy = load_policy()
    _keep_october(hospital, policy)
    hospital.set_timezone(ZoneInfo("Europe/Paris"))
    judged: list[str] = []
    report = _report(hospital, policy, judged)
    assert judged == ["2026-11", "2026-10"] and report.facts.trend.accesses[-2] == 1


def test_an_event_in_the_rules_lookback_before_the_month_has_it_judged_again_but_not_counted(hospital):
    """The rules read an hour before the month (repeated denials): an event there appended since
    changes what judging the month would give, not the month's own accesses."""
    policy = load_policy()
    assert policy.lookback().total_seconds() == 3600
    _keep_october(hospital, policy)
    late_event(hospital, datetime(2026, 10, 1, 3, 30, tzinfo=timezone.utc))  # 23:30 on Sep 30 in New York
    judged: list[str] = []
    report = _report(hospital, policy, judged)
    assert judged == ["2026-11", "2026-10"] and report.facts.trend.accesses[-2] == 1234


def test_the_size_kept_is_the_latest_signed_checkpoints_not_the_log_heads(hospital):
    """A database writer could raise the log's head while a review's rules read and put it back after,
    so that later events look older than the review; the signed checkpoints are out of their reach."""
    signed = hospital.checkpoints.latest().size
    with hospital.records.begin() as conn:
        conn.execute(text("UPDATE audit_log_head SET size = size + 50"))
    assert log_size(hospital) == signed


def test_a_checkpoint_line_forged_in_the_site_folder_does_not_raise_the_size_kept(hospital):
    """Someone who can write the vault's folder appends checkpoint lines claiming a larger log: one a
    genuine line with its size raised, one signed by a key of their own under this vault's fingerprint,
    one that is not a checkpoint at all. None verifies with the keyring, so the size kept is still the
    latest genuine checkpoint's."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from auditor.audit.checkpoints import Checkpoint, sign

    genuine = hospital.checkpoints.latest()
    raised = Checkpoint(genuine.size + 1_000, genuine.root, genuine.at, genuine.key, genuine.signature)
    theirs = Ed25519PrivateKey.generate()
    forged = sign(genuine.size + 2_000, genuine.root, datetime(2026, 12, 1, tzinfo=timezone.utc), theirs,
                  theirs.public_key().public_bytes_raw())
    forged = Checkpoint(forged.size, forged.root, forged.at, genuine.key, forged.signature)
    with hospital.checkpoints.path.open("a") as f:
        f.write(raised.to_line() + "\n" + forged.to_line() + "\n" + '{"size": 99999999}\n')
    assert max(c.size for c in hospital.checkpoints.read()[0]) == genuine.size + 2_000  # the lines are read
    assert log_size(hospital) == genuine.size

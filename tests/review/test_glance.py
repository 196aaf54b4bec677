"""The month at a glance: what a review of a whole month keeps (and of other periods does not), what
a verification kept says, and the figures a reader's roles do not see left unread."""

from __future__ import annotations

import json
from datetime import date

import pytest

from auditor.review.audit_log import verify_and_keep, verify_audit_log
from auditor.review.glance import is_whole_month, month_at_a_glance
from auditor.review.period import days, month_period, review_period


def test_a_months_review_keeps_its_share_and_the_glance_shows_it(month_vault, policy):
    november = month_period("2026-11", month_vault.timezone)
    before = month_at_a_glance(month_vault, november, policy=policy)
    assert before.review is None and before.accesses > 0 and before.findings_total == 0
    review = review_period(month_vault, november, policy)
    glance = month_at_a_glance(month_vault, november, policy=policy)
    assert (glance.review.accesses, glance.review.explained_share) == (review.accesses, review.explained_share)
    assert glance.accesses == review.accesses  # counted from the log as the engine counts
    assert glance.findings_total == sum(1 for f in review.open_findings if f.case is not None) > 0
    assert glance.cases_open == review.cases
    assert verify_audit_log(month_vault).result.ok  # what was kept is in the ledger: the log still vouches


def test_a_review_of_other_days_keeps_nothing(month_vault, policy):
    review_period(month_vault, days(month_vault, date(2026, 11, 1), date(2026, 11, 15)), policy)
    assert month_at_a_glance(month_vault, month_period("2026-11", month_vault.timezone), policy=policy).review is None


@pytest.mark.parametrize("first, last, whole", [
    ("2026-11-01", "2026-11-30", True), ("2026-12-01", "2026-12-31", True), ("2028-02-01", "2028-02-29", True),
    ("2026-11-01", "2026-11-29", False), ("2026-11-02", "2026-11-30", False), ("2026-11-01", "2026-12-31", False)])
def test_whole_months(month_vault, first, last, whole):
    assert is_whole_month(days(month_vault, date.fromisoformat(first), date.fromisoformat(last))) == whole


def test_a_verification_kept_is_shown_and_the_figures_not_seen_are_not_read(month_vault, policy):
    november = month_period("2026-11", month_vault.timezone)
    review_period(month_vault, november, policy)
    assert month_at_a_glance(month_vault, november, policy=policy).verification is None
    done = verify_and_keep(month_vault).result
    glance = month_at_a_glance(month_vault, november, cases=False, releases=False, policy=policy)
    assert glance.verification.ok and glance.verification.size == done.size
    assert (glance.findings_total, glance.cases_open, glance.requests_due) == (0, 0, 0)
    assert glance.checkpoint is not None and glance.checkpoint == month_vault.checkpoints.latest()  # signed, not made


def test_the_glance_shows_the_latest_signed_checkpoint_not_a_line_added_to_the_file(month_vault, policy):
    """A line of a larger size appended to the checkpoints file by someone who can write the vault's
    folder, with no signature of this keyring, is not shown as the log's latest checkpoint."""
    genuine = month_vault.checkpoints.latest()
    line = json.loads(genuine.to_line()) | {"size": genuine.size + 1_000}
    with month_vault.checkpoints.path.open("a") as f:
        f.write(json.dumps(line) + "\n")
    assert month_vault.checkpoints.latest().size == genuine.size + 1_000  # the line is read
    glance = month_at_a_glance(month_vault, month_period("2026-11", month_vault.timezone), cases=False,
                               releases=False, policy=policy)
    assert glance.checkpoint == genuine

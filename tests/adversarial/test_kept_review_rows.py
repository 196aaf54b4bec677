"""Someone with write access to the records database lowers the figures a month's review kept
(auditor.review.kept_months), which the next monthly report shows as the month before without
judging it again, or raises the log size it was judged at, to hide an event appended since. On SQLite
and on PostgreSQL, `audit verify` names the row, and so does the report's own verification: the
report says on its cover that its rows were altered, and trusts no kept review, judging the month
before again."""

from __future__ import annotations

import json

import pytest

from sqlalchemy import text

from auditor.policy.rules import load_policy
from auditor.reporting.templates import load_site
from auditor.review.audit_log import sign_checkpoint
from auditor.review.monthly import monthly_report
from auditor.review.period import month_period, review_period
from auditor.vault.integrity import row_problems, verify_vault
from tests.reporting.report_data import hospital_month


def test_kept_figures_edited_behind_the_gateway_are_named_by_the_report_that_shows_them(vault):
    hospital_month(vault)
    sign_checkpoint(vault)  # as an ingest ends
    policy = load_policy()
    review_period(vault, month_period("2026-10", vault.timezone), policy)
    with vault.records.begin() as conn:
        row_id, value = conn.execute(text("SELECT name, value FROM vault_settings WHERE name = 'reviewed 2026-10'")).one()
        kept_findings = json.loads(value)["findings"]
        doc = json.loads(value) | {"findings": 0, "log_size": 10**9}
        conn.execute(text("UPDATE vault_settings SET value = :v WHERE name = :id"), {"v": json.dumps(doc), "id": row_id})
    result = verify_vault(vault.records, vault.keyring, [vault.checkpoints.path])
    assert [(p.kind, f"vault_settings row {row_id} was edited" in p.message) for p in row_problems(result)] == [
        ("row-edited", True)]
    report = monthly_report(vault, month_period("2026-11", vault.timezone), policy, load_site(None))
    assert not report.headline.log_verified and report.headline.log_intact and report.headline.rows_altered == 1
    # a report whose rows do not verify trusts no kept review: October judged again, not shown as edited
    previous = report.facts.previous
    assert previous.reviewed_at is None and previous.findings == kept_findings > 0
    assert "October 2026 judged again under today's rules" in report.html()


@pytest.mark.parametrize("value", ["{not json", '{"accesses": "many"}', "[1, 2]"])
def test_a_kept_review_edited_into_nonsense_is_named_and_the_month_judged_again(vault, value):
    """Not a traceback in place of the report: the month before is judged again, the cover names the row."""
    hospital_month(vault)
    sign_checkpoint(vault)
    policy = load_policy()
    review_period(vault, month_period("2026-10", vault.timezone), policy)
    with vault.records.begin() as conn:
        kept = json.loads(conn.execute(text("SELECT value FROM vault_settings WHERE name = 'reviewed 2026-10'")).scalar_one())
        edited = value if value != '{"accesses": "many"}' else json.dumps(kept | {"accesses": "many"})
        conn.execute(text("UPDATE vault_settings SET value = :v WHERE name = 'reviewed 2026-10'"), {"v": edited})
    report = monthly_report(vault, month_period("2026-11", vault.timezone), policy, load_site(None))
    assert report.headline.rows_altered == 1 and report.facts.previous.reviewed_at is None
    assert report.facts.trend.accesses[-2] == report.facts.previous.accesses == 1

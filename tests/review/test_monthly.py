"""The monthly report as a use case: what it states is its review's, its time is the vault's clock,
pseudonyms are for the files only, and its files are written together."""

from __future__ import annotations

import re

from auditor.reporting.templates import load_site
from auditor.review.monthly import NAMING, REVIEWING, monthly_report, write_monthly_report
from auditor.review.period import month_period


def test_the_report_states_its_review_at_the_vaults_time(month_vault, policy):
    stages: list[str] = []
    report = monthly_report(month_vault, month_period("2026-11", month_vault.timezone), policy, load_site(None),
                            author="Pat Privacy", progress=stages.append)
    review, head = report.review, report.headline
    assert stages[:2] == [REVIEWING, NAMING] and len(stages) == len(set(stages)) >= 4
    assert (head.accesses, head.explained_share) == (review.accesses, review.explained_share)
    assert head.findings == len(review.open_findings) and head.cases == len({f.case for f in review.open_findings})
    assert head.log_verified and head.log_intact and head.rows_altered == 0
    # the vault's (injected) clock, not the system's
    assert report.context["generated_at"] == month_vault.clock.now().astimezone(month_vault.timezone)
    assert report.context["author"] == "Pat Privacy" and report.findings is review.findings
    assert report.verification.ok and "Müller, Zoë" in report.html()


def test_pseudonyms_are_for_the_files_only(month_vault, policy, tmp_path):
    report = monthly_report(month_vault, month_period("2026-11", month_vault.timezone), policy, load_site(None),
                            pseudonymize=True)
    assert {f.mrn for f in report.review.findings if f.mrn} >= {"P-FAM", "P-VIP"}  # the cases keep the MRNs
    codes = {f.mrn for f in report.findings if f.mrn}
    assert codes and all(re.fullmatch(r"[A-Z0-9]{8}", c) for c in codes)
    paths = write_monthly_report(report, tmp_path / "out", pdf=False)
    assert set(paths) == {"html", "csv", "json"}
    for path in paths.values():
        text = path.read_text(encoding="utf-8")
        assert path.stat().st_mode & 0o777 == 0o600 and "P-FAM" not in text and "Müller" not in text

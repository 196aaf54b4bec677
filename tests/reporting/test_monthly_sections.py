"""The monthly report of one month, made once through the CLI, read section by section against its own
findings (the tests here only read it, or make others in homes of their own)."""

from __future__ import annotations

import html as html_module
import json
import re
from collections import Counter
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pypdf
import pytest

from auditor.clock import FixedClock
from auditor.home import create_home
from tests.conftest import FAST_SCRYPT, cli_environment, run_cli
from tests.reporting.report_data import hospital_month
from tests.reporting.sections import section

SECTIONS = ("cover", "summary", "trend", "rules", "cases", "break-glass", "vip-sensitive", "terminated",
            "outcomes", "completeness", "appendix", "sign-off")
HEADINGS = ("Executive summary", "Six-month trend", "Findings by rule", "Ranked cases", "Break-the-glass review",
            "VIP and sensitive-record accesses", "Terminated-account activity", "Case outcomes", "Data completeness",
            "Appendix: rules, parameters and method", "Sign-off")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """November's report of report_data's month, made once for the tests that read it (none writes to
    its home or its folder)."""
    root = tmp_path_factory.mktemp("monthly")
    with pytest.MonkeyPatch.context() as env:
        cli_environment(env, root)
        vault = create_home(root / "home", clock=FixedClock(datetime(2026, 11, 2, 14, 0, tzinfo=timezone.utc)),
                            scrypt_n=FAST_SCRYPT)
        hospital_month(vault)
        vault.close()
        code, out, err = run_cli("report", "monthly", "--month", "2026-11", "--out", root / "out", user="officer")
    assert code == 0, err
    out_dir = root / "out"
    findings = json.loads((out_dir / "findings.json").read_text())
    return {"dir": out_dir, "html": (out_dir / "report.html").read_text(encoding="utf-8"), "findings": findings,
            "stdout": out}


def test_every_file_written_owner_only(report):
    for name in ("report.html", "report.pdf", "findings.csv", "findings.json"):
        assert (report["dir"] / name).stat().st_mode & 0o777 == 0o600
    assert "audit log verified" in report["stdout"]


def test_every_section_present_and_nothing_unrendered(report):
    html = report["html"]
    for name in SECTIONS:
        section(html, name)
    for heading in HEADINGS:
        assert heading in html
    assert "{{" not in html and "{%" not in html and "Undefined" not in html
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_numbers_equal_the_findings(report):
    html, findings = report["html"], report["findings"]
    assert {f["rule"] for f in findings} == {"family-access", "neighbor-access", "coworker-access", "vip-access",
                                             "terminated-user-access", "break-glass-review", "sensitive-record-access",
                                             "no-treatment-relationship"}
    summary = section(html, "summary")
    tiles = dict((label, value) for value, label in re.findall(
        r'<span class="value">([^<]+)</span><span class="label">([^<]+)</span>', summary))
    cases = len({f["case"] for f in findings})
    assert tiles[f"findings in {cases} case{'s' if cases != 1 else ''}"] == str(len(findings))
    by_severity = Counter(f["severity"] for f in findings)
    cells = re.findall(r'<td class="num sev-(\w+)">([\d,]+)</td>', summary)
    assert {sev: int(n) for sev, n in cells} == {s: by_severity.get(s, 0) for s in ("critical", "high", "medium", "low")}
    rules = section(html, "rules")
    per_rule = Counter(f["rule"] for f in findings)
    for rule, count in per_rule.items():
        row = re.search(rf"<code>{rule}</code></td>.*?<td class=\"num\">(\d+)</td>", rules, re.S)
        assert row and int(row.group(1)) == count, rule
    ranked = section(html, "cases")
    assert ranked.count('class="case"') == cases
    for f in findings:
        assert f["explanation"].replace("'", "&#39;") in ranked


def test_break_glass_vip_sensitive_terminated_sections(report):
    html = report["html"]
    glass = section(html, "break-glass")
    assert "2 break-the-glass accesses this month;\n  1 without a reason" in glass
    assert glass.count("<tr>") - 1 == sum(f["rule"] == "break-glass-review" for f in report["findings"])
    assert "1 accesses to VIP patients, 1 of them unexplained" in section(html, "vip-sensitive")
    assert "psychotherapy note</td><td class=\"num\">1</td><td class=\"num\">1</td>" in section(html, "vip-sensitive")
    assert "t.gone" in section(html, "terminated")


def test_previous_month_and_trend(report):
    summary = section(report["html"], "summary")
    assert "October 2026" in summary
    trend = section(report["html"], "trend")
    assert trend.count("<svg") == 2
    assert 'Oct 2026</td><td class="num">1</td>' in trend and 'Nov 2026</td><td class="num">9</td>' in trend
    assert '<span class="value">9</span><span class="label">patient accesses</span>' in summary


def test_cover_names_the_log_verification_and_author(report):
    cover = section(report["html"], "cover")
    assert "Olivia Officer (officer)" in cover and "Verified" in cover and "America/New_York" in cover


def test_pdf_has_numbered_pages_and_the_text(report):
    reader = pypdf.PdfReader(report["dir"] / "report.pdf")
    pages = len(reader.pages)
    assert pages >= 4
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert text.count("Confidential — contains PHI") >= pages
    for heading in HEADINGS:
        assert heading in text
    assert "November 2026" in reader.pages[1].extract_text()  # the running header


def test_times_are_local_throughout_and_the_zone_is_named_once(report):
    """Issue 18, section 5: no row in UTC beside local days; the cover names the zone."""
    html = report["html"]
    assert "UTC" not in html
    assert "local time of America/New_York throughout this report" in section(html, "cover")
    zone = ZoneInfo("America/New_York")
    for f in report["findings"]:
        if f["rule"] == "break-glass-review":
            first = datetime.fromisoformat(f["first_at"]).astimezone(zone).strftime("%Y-%m-%d %H:%M")
            assert f"<td>{first}" in section(html, "break-glass")


def test_the_cover_and_the_data_completeness_say_what_their_counts_are(report, month_home, tmp_path):
    cover = html_module.unescape(" ".join(re.sub(r"<[^>]+>", " ", section(report["html"], "cover")).split()))
    assert "Verified as this report was made: the log's " in cover
    assert "(this report's own reads are recorded after them)" in cover
    from auditor.home import Vault
    from auditor.policy.rules import load_policy
    from auditor.reporting.templates import Site
    from auditor.review.monthly import monthly_report
    from auditor.review.period import month_period

    runs = {}
    for when in (datetime(2026, 10, 31, 12, tzinfo=timezone.utc), datetime(2026, 12, 1, 10, tzinfo=timezone.utc)):
        vault = Vault.open(tmp_path / "home", clock=FixedClock(when))
        try:
            runs[when.month] = vault.gateway.start_ingest_run("ehr", "America/New_York")
        finally:
            vault.close()
    vault = Vault.open(tmp_path / "home", clock=FixedClock(datetime(2026, 12, 1, 15, tzinfo=timezone.utc)))
    try:
        made = monthly_report(vault, month_period("2026-11", vault.timezone), load_policy(), Site(), author="O. Officer")
    finally:
        vault.close()
    said = " ".join(section(made.html(), "completeness").split())
    # November's data loaded on 1 December counts; October's run does not
    assert (f"Ingest runs from the first day of the month to this report (a month's events are usually loaded after "
            f"it ends): 1 (run {runs[12]} of source <code>ehr</code> started 2026-12-01 05:00);") in html_module.unescape(said)


def test_the_summary_states_the_share_each_explanation_explains(report):
    summary = " ".join(section(report["html"], "summary").split())
    rows = re.findall(r"<tr><td>([a-z ]+)</td><td class=\"num\">([\d,]+)</td><td class=\"num\">([\d.]+)%</td></tr>",
                      summary)
    assert rows and {name for name, _, _ in rows} <= {"care team", "attending", "department", "operational",
                                                       "case review"}
    accesses = int(re.search(r'<span class="value">([\d,]+)</span><span class="label">patient accesses',
                             summary).group(1).replace(",", ""))
    for _, n, share in rows:
        assert float(share) == round(100 * int(n.replace(",", "")) / accesses, 1)


def test_the_method_states_which_findings_may_rank_as_expected_gaps(report, run, month_home, tmp_path):
    method = " ".join(html_module.unescape(section(report["html"], "appendix")).split())
    assert ("A finding of no-treatment-relationship, sensitive-record-access, vip-access ranks as an expected gap, "
            "below every finding with a ground of its own") in method
    site = tmp_path / "site-policies"
    site.mkdir()
    (site / "engine.yaml").write_text("explanations: {}\nexpected_gaps: []\n")
    code, _, err = run("report", "monthly", "--month", "2026-11", "--out", tmp_path / "strict", "--no-pdf",
                       "--site-policies", site)
    assert code == 0, err
    strict = (tmp_path / "strict" / "report.html").read_text(encoding="utf-8")
    assert "No finding ranks as an expected gap." in strict and "ranks as an expected gap, below" not in strict

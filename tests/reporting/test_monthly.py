"""`auditor report monthly`, run through the CLI, and the report checked against its own findings."""

from __future__ import annotations

import csv
import html as html_module
import json
import re
from collections import Counter
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pypdf
import pytest
from sqlalchemy import func, select

from auditor.audit.schema import AuditEventRow
from auditor.clock import FixedClock
from auditor.home import Vault, create_home
from tests.conftest import FAST_SCRYPT, cli_environment, run_cli
from tests.reporting.report_data import hospital_month

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


def _section(html: str, name: str) -> str:
    match = re.search(rf'<section[^>]*id="{name}".*?</section>', html, re.S)
    assert match, name
    return match.group(0)


def test_every_file_written_owner_only(report):
    for name in ("report.html", "report.pdf", "findings.csv", "findings.json"):
        assert (report["dir"] / name).stat().st_mode & 0o777 == 0o600
    assert "audit log verified" in report["stdout"]


def test_every_section_present_and_nothing_unrendered(report):
    html = report["html"]
    for name in SECTIONS:
        _section(html, name)
    for heading in HEADINGS:
        assert heading in html
    assert "{{" not in html and "{%" not in html and "Undefined" not in html
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_numbers_equal_the_findings(report):
    html, findings = report["html"], report["findings"]
    assert {f["rule"] for f in findings} == {"family-access", "neighbor-access", "coworker-access", "vip-access",
                                             "terminated-user-access", "break-glass-review", "sensitive-record-access",
                                             "no-treatment-relationship"}
    summary = _section(html, "summary")
    tiles = dict((label, value) for value, label in re.findall(
        r'<span class="value">([^<]+)</span><span class="label">([^<]+)</span>', summary))
    cases = len({f["case"] for f in findings})
    assert tiles[f"findings in {cases} case{'s' if cases != 1 else ''}"] == str(len(findings))
    by_severity = Counter(f["severity"] for f in findings)
    cells = re.findall(r'<td class="num sev-(\w+)">([\d,]+)</td>', summary)
    assert {sev: int(n) for sev, n in cells} == {s: by_severity.get(s, 0) for s in ("critical", "high", "medium", "low")}
    rules = _section(html, "rules")
    per_rule = Counter(f["rule"] for f in findings)
    for rule, count in per_rule.items():
        row = re.search(rf"<code>{rule}</code></td>.*?<td class=\"num\">(\d+)</td>", rules, re.S)
        assert row and int(row.group(1)) == count, rule
    ranked = _section(html, "cases")
    assert ranked.count('class="case"') == cases
    for f in findings:
        assert f["explanation"].replace("'", "&#39;") in ranked


def test_break_glass_vip_sensitive_terminated_sections(report):
    html = report["html"]
    glass = _section(html, "break-glass")
    assert "2 break-the-glass accesses this month;\n  1 without a reason" in glass
    assert glass.count("<tr>") - 1 == sum(f["rule"] == "break-glass-review" for f in report["findings"])
    assert "1 accesses to VIP patients, 1 of them unexplained" in _section(html, "vip-sensitive")
    assert "psychotherapy note</td><td class=\"num\">1</td><td class=\"num\">1</td>" in _section(html, "vip-sensitive")
    assert "t.gone" in _section(html, "terminated")


def test_previous_month_and_trend(report):
    summary = _section(report["html"], "summary")
    assert "October 2026" in summary
    trend = _section(report["html"], "trend")
    assert trend.count("<svg") == 2
    assert 'Oct 2026</td><td class="num">1</td>' in trend and 'Nov 2026</td><td class="num">9</td>' in trend
    assert '<span class="value">9</span><span class="label">patient accesses</span>' in summary


def test_cover_names_the_log_verification_and_author(report):
    cover = _section(report["html"], "cover")
    assert "Olivia Officer (officer)" in cover and "Verified" in cover and "America/New_York" in cover


@pytest.mark.parametrize("user, args, message", [
    ("officer", ("--author", "Pat Privacy"), "--author is gone: the report names the signed-in privacy officer: "
                                             "auditor login USER"),
    (None, (), "not signed in: run auditor login USER"),
    ("investigator", (), "investigator does not hold the role privacy_officer"),
    ("records", (), "records does not hold the role privacy_officer"),
])
def test_only_a_signed_in_privacy_officer_makes_the_report(run, month_home, tmp_path, user, args, message):
    code, out, err = run("report", "monthly", "--month", "2026-11", *args, "--out", tmp_path / "out", "--no-pdf",
                         user=user)
    assert (code, out, err) == (2, "", f"auditor: {message}\n")
    assert not (tmp_path / "out").exists()


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


def test_names_read_through_the_gateway_and_audited(run, month_home, tmp_path):
    vault = Vault.open(tmp_path / "home")
    with vault.records.connect() as conn:
        before = conn.scalar(select(func.count()).where(AuditEventRow.user_id == "svc:report"))
    vault.close()
    code, _, err = run("report", "monthly", "--month", "2026-11", "--out", tmp_path / "out", "--no-pdf")
    assert code == 0, err
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Müller, Zoë" in html
    vault = Vault.open(tmp_path / "home")
    with vault.records.connect() as conn:
        after = conn.scalar(select(func.count()).where(AuditEventRow.user_id == "svc:report"))
    vault.close()
    assert after > before


def test_pseudonymize_replaces_patient_names_stably(run, month_home, tmp_path):
    pages = []
    for n in (1, 2):
        code, _, err = run("report", "monthly", "--month", "2026-11", "--out", tmp_path / f"o{n}", "--no-pdf",
                           "--pseudonymize")
        assert code == 0, err
        pages.append((tmp_path / f"o{n}" / "report.html").read_text(encoding="utf-8"))
    for name in ("Müller", "Zoë", "Vera", "Star"):
        assert name not in pages[0]
    pseudonyms = sorted(set(re.findall(r"Patient [A-Z2-7]{8}", pages[0])))
    assert len(pseudonyms) >= 4
    assert pseudonyms == sorted(set(re.findall(r"Patient [A-Z2-7]{8}", pages[1])))


def _every_patient(home) -> list:
    """Every patient of the vault (MRN and name), read through the gateway."""
    from auditor.vault.gateway import AccessContext
    from auditor.vault.records import Patient

    vault = Vault.open(home)
    try:
        with vault.records.connect() as conn:
            ids = list(conn.scalars(select(Patient.id)))
        return list(vault.gateway.read_patients(AccessContext.service("report"), ids).values())
    finally:
        vault.close()


def test_pseudonymize_leaves_no_mrn_and_no_name_in_any_output(run, month_home, tmp_path):
    code, out, err = run("report", "monthly", "--month", "2026-11", "--out", tmp_path / "p", "--pseudonymize")
    assert code == 0, err
    outputs = {name: (tmp_path / "p" / name).read_text(encoding="utf-8")
               for name in ("report.html", "findings.csv", "findings.json")}
    outputs["report.pdf"] = "\n".join(p.extract_text() for p in pypdf.PdfReader(tmp_path / "p" / "report.pdf").pages)
    outputs["stdout"] = out
    patients = _every_patient(tmp_path / "home")
    assert len(patients) == 6
    for patient in patients:
        for name, text in outputs.items():
            assert patient.mrn not in text, (patient.mrn, name)
            for word in (patient.first_name, patient.last_name):
                assert not re.search(rf"\b{re.escape(word)}\b", text), (word, name)
    findings = json.loads(outputs["findings.json"])
    codes = {f["mrn"] for f in findings if f["mrn"]}
    assert codes and all(re.fullmatch(r"[A-Z2-7]{8}", c) for c in codes)  # the keyed pseudonym's code
    shown = set(re.findall(r"Patient ([A-Z2-7]{8})", outputs["report.html"]))
    assert shown and shown <= codes  # the report's patients are the rows of findings.csv
    with open(tmp_path / "p" / "findings.csv", newline="", encoding="utf-8") as f:
        assert {row["mrn"] for row in csv.DictReader(f) if row["mrn"]} == codes
    code, _, err = run("report", "monthly", "--month", "2026-11", "--out", tmp_path / "q", "--no-pdf", "--pseudonymize")
    assert code == 0, err
    again = json.loads((tmp_path / "q" / "findings.json").read_text())
    assert [f["mrn"] for f in again] == [f["mrn"] for f in findings]  # stable in this vault


def test_a_site_names_itself_and_overrides_a_template(run, month_home, tmp_path):
    site = tmp_path / "site"
    (site / "_partials").mkdir(parents=True)
    (site / "site.yaml").write_text("organisation: St. Elsewhere & Partners\nlogo: logo.svg\n")
    (site / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    (site / "_partials" / "signoff.html").write_text('<section id="sign-off"><h2>Sign-off</h2>Signed by our CPO</section>')
    code, _, err = run("report", "monthly", "--month", "2026-11", "--out", tmp_path / "out", "--no-pdf", "--site", site)
    assert code == 0, err
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "St. Elsewhere &amp; Partners" in html and "Signed by our CPO" in html
    assert 'src="data:image/svg+xml;base64,' in html


def test_a_template_with_a_missing_value_fails_loudly(run, month_home, tmp_path):
    site = tmp_path / "site"
    (site / "_partials").mkdir(parents=True)
    (site / "_partials" / "signoff.html").write_text("<p>{{ committee_chair }}</p>")
    code, _, err = run("report", "monthly", "--month", "2026-11", "--out", tmp_path / "out", "--no-pdf", "--site", site)
    assert code == 2 and "committee_chair" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "report.html").exists()


def test_a_tampered_log_is_stated_on_the_cover(run, month_home, tmp_path):
    vault = Vault.open(tmp_path / "home")
    with vault.records.begin() as conn:
        conn.execute(AuditEventRow.__table__.update().where(AuditEventRow.seq == 3).values(outcome="denied"))
    vault.close()
    code, out, err = run("report", "monthly", "--month", "2026-11", "--out", tmp_path / "out", "--no-pdf")
    assert code == 0, err
    assert "FAILED verification" in out
    cover = _section((tmp_path / "out" / "report.html").read_text(encoding="utf-8"), "cover")
    assert "TAMPERED" in cover and "first bad sequence number is 3" in cover


@pytest.mark.parametrize("args, message", [
    (("--month", "2026-13"), "is not YYYY-MM"),
    (("--month", "2099-01"), "--month 2099-01 has not begun"),
    (("--month", "2026-11", "--site", "/nonexistent"), "does not exist"),
])
def test_bad_input_is_one_line(run, month_home, tmp_path, args, message):
    code, _, err = run("report", "monthly", *args, "--out", tmp_path / "out")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_casework_and_suppressions_in_the_report(auditor, month_home, tmp_path):
    # each step on its own day, whatever the day the test runs: the expiry is compared with "today"
    on = lambda day, hour: FixedClock(datetime(2026, 11, day, hour, tzinfo=timezone.utc))  # noqa: E731
    done = auditor("suppressions", "add", "--rule", "break-glass-review", "--user", "b.glass", "--reason",
                   "ED physician: reviewed weekly by the ED lead", "--expires", "2027-06-30",
                   clock=on(18, 15), user="officer")
    assert done.code == 0, done.err
    done = auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--out", tmp_path / "f.json",
                   clock=on(19, 15), user="officer")
    assert done.code == 0, done.err
    findings = json.loads((tmp_path / "f.json").read_text())
    muller = next(f["case"] for f in findings if f["user_id"] == "n.muller")
    assert auditor("cases", "review", muller, clock=on(20, 14), user="officer").code == 0
    closed = auditor("cases", "close", muller, "--disposition", "confirmed_violation", "--sanction", "education",
                     "--note", "retrained on minimum necessary", clock=on(20, 15), user="officer")
    assert closed.code == 0, closed.err
    done = auditor("report", "monthly", "--month", "2026-11", "--out", tmp_path / "out", "--no-pdf",
                   clock=FixedClock(datetime(2026, 12, 1, 15, tzinfo=timezone.utc)), user="officer")
    assert done.code == 0, done.err
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    report_findings = json.loads((tmp_path / "out" / "findings.json").read_text())
    muted = [f for f in report_findings if f["muted"]]
    assert [f["rule"] for f in muted] == ["break-glass-review"] * 2
    cases = {f["case"] for f in report_findings if not f["muted"]}
    summary = _section(html, "summary")
    assert len(cases) == 3  # n.muller, t.gone, c.coder; b.glass's findings are all muted
    # the cases were opened during November (the clock says so): the month's three, one of them closed
    said = " ".join(summary.split())
    assert "This month's findings are in <strong>3</strong> cases" in said
    assert "Now, as this report is made: 2 open, 0 under review, 1 closed." in said, said
    assert "During the month itself: <strong>3</strong> cases opened and <strong>1</strong> closed; " \
           "<strong>2</strong> open at its end" in said
    assert f'<td class="num">{len(muted)}</td></tr></tbody>' in summary  # muted by suppressions
    outcomes = _section(html, "outcomes")
    assert "confirmed violation</td><td class=\"num\">1</td>" in outcomes
    assert "education</td><td class=\"num\">1</td>" in outcomes
    glass = _section(html, "break-glass")
    assert glass.count("(muted)") == 2


def test_only_the_patients_in_the_rows_are_named():
    from auditor.policy.findings import Finding
    from auditor.reporting import sections
    from auditor.review.triage import ranked_report_cases

    def finding(case, patient, rule="no-treatment-relationship"):
        return Finding(rule, "medium", f"u{case}", patient, "M", ["e"], 45, "x.", case=case,
                       first_at=f"2026-11-02T10:{patient % 60:02d}:00+00:00", last_at="2026-11-02T10:00:00+00:00")

    many = sections.MAX_CASES + 5
    found = [finding(c, 1000 * c + k) for c in range(1, many + 1) for k in range(sections.CASE_ROWS + 2)]
    found += [finding(9999, 500_000 + k, "vip-access") for k in range(sections.MAX_ROWS + 7)]
    ranking = ranked_report_cases(found)
    per_rule = [sections.of_rule(found, rule) for rule in sections.LISTED_RULES]
    named = sections.shown_patients(ranking, per_rule)
    cases = sections.ranked_cases(ranking, {pid: f"P{pid}" for pid in named}, ZoneInfo("America/New_York"))
    vip = sections.rule_rows(per_rule[1], {pid: f"P{pid}" for pid in named}, ZoneInfo("America/New_York"))
    rows = [r for c in cases["rows"] for r in c["rows"]] + vip["rows"]
    assert all(r["patient"] for r in rows)  # every row shown has its name
    assert len(named) == len({r["patient"] for r in rows})  # and no other patient was read
    assert cases["total"] == many + 1 and vip["more"] == 7


def test_the_trend_counts_accesses_as_the_engine_does(month_home, tmp_path):
    """The trend takes this month's accesses from the run and earlier months' from SQL: both must
    count the same events (success, a patient, an access action, no service account)."""
    from auditor.policy.access_counts import accesses_by_period
    from auditor.policy.rules import load_policy
    from auditor.reporting.activity import activity
    from auditor.review.period import month_period, preview_period
    from auditor.vault.settings import organisation_timezone

    vault = Vault.open(tmp_path / "home")
    try:
        policy = load_policy()
        for month in ("2026-10", "2026-11"):
            period = month_period(month, organisation_timezone(vault.records))
            run = preview_period(vault, period, policy)
            assert accesses_by_period(vault.records, [period], policy, vault.keyring.log_mac_key) == [
                activity(run.detection.context).accesses]
    finally:
        vault.close()


def test_times_are_local_throughout_and_the_zone_is_named_once(report):
    """Issue 18, section 5: no row in UTC beside local days; the cover names the zone."""
    html = report["html"]
    assert "UTC" not in html
    assert "local time of America/New_York throughout this report" in _section(html, "cover")
    zone = ZoneInfo("America/New_York")
    for f in report["findings"]:
        if f["rule"] == "break-glass-review":
            first = datetime.fromisoformat(f["first_at"]).astimezone(zone).strftime("%Y-%m-%d %H:%M")
            assert f"<td>{first}" in _section(html, "break-glass")


def test_the_cover_and_the_data_completeness_say_what_their_counts_are(report, month_home, tmp_path):
    cover = html_module.unescape(" ".join(re.sub(r"<[^>]+>", " ", _section(report["html"], "cover")).split()))
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
    said = " ".join(_section(made.html(), "completeness").split())
    # November's data loaded on 1 December counts; October's run does not
    assert (f"Ingest runs from the first day of the month to this report (a month's events are usually loaded after "
            f"it ends): 1 (run {runs[12]} of source <code>ehr</code> started 2026-12-01 05:00);") in html_module.unescape(said)


def test_a_report_made_without_a_signed_in_officer_does_not_borrow_the_os_account(month_home, tmp_path):
    from auditor.home import Vault
    from auditor.policy.rules import load_policy
    from auditor.reporting.templates import Site
    from auditor.review.monthly import monthly_report
    from auditor.review.period import month_period

    vault = Vault.open(tmp_path / "home", clock=FixedClock(datetime(2026, 12, 1, 15, tzinfo=timezone.utc)))
    try:
        report = monthly_report(vault, month_period("2026-11", vault.timezone), load_policy(), Site())
    finally:
        vault.close()
    cover = " ".join(_section(report.html(), "cover").split())
    assert "Prepared by</dt><dd>no one named: made by a program without a signed-in privacy officer" in cover


def test_the_break_glass_table_shows_each_reason_read_as_the_officer(run, month_home, tmp_path):
    """Issue 18, section 5: the reasons were nowhere to be read; now the table shows them, each opened
    through the gateway in the officer's name, and a pseudonymized report shows none."""
    from sqlalchemy import create_engine

    code, _, err = run("report", "monthly", "--month", "2026-11", "--out", tmp_path / "out", "--no-pdf")
    assert code == 0, err
    glass = _section((tmp_path / "out" / "report.html").read_text(encoding="utf-8"), "break-glass")
    assert "<td>“unconscious in the ED”</td>" in glass and "<td>none given</td>" in glass
    engine = create_engine(f"sqlite:///{tmp_path / 'home' / 'records.db'}")
    with engine.connect() as conn:
        reads = conn.execute(select(AuditEventRow.user_id, AuditEventRow.purpose, AuditEventRow.outcome)
                             .where(AuditEventRow.record_type == "access_reason")).all()
    engine.dispose()
    assert reads == [("officer", "HCOMPL", "success")]  # one reason, opened once, in the officer's name
    code, _, err = run("report", "monthly", "--month", "2026-11", "--out", tmp_path / "pseudo", "--no-pdf",
                       "--pseudonymize")
    assert code == 0, err
    glass = _section((tmp_path / "pseudo" / "report.html").read_text(encoding="utf-8"), "break-glass")
    assert "unconscious" not in glass and "on file, not shown here" in glass
    assert "A pseudonymized report shows no reason" in glass


def test_the_summary_states_the_share_each_explanation_explains(report):
    summary = " ".join(_section(report["html"], "summary").split())
    rows = re.findall(r"<tr><td>([a-z ]+)</td><td class=\"num\">([\d,]+)</td><td class=\"num\">([\d.]+)%</td></tr>",
                      summary)
    assert rows and {name for name, _, _ in rows} <= {"care team", "attending", "department", "operational",
                                                       "case review"}
    accesses = int(re.search(r'<span class="value">([\d,]+)</span><span class="label">patient accesses',
                             summary).group(1).replace(",", ""))
    for _, n, share in rows:
        assert float(share) == round(100 * int(n.replace(",", "")) / accesses, 1)


def test_the_method_states_which_findings_may_rank_as_expected_gaps(report, run, month_home, tmp_path):
    method = " ".join(html_module.unescape(_section(report["html"], "appendix")).split())
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

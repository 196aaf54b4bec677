"""`auditor report monthly`, run through the CLI, and the report checked against its own findings."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pypdf
import pytest
from sqlalchemy import func, select

from auditor.audit.schema import AuditEventRow
from auditor.clock import FixedClock
from auditor.home import Vault
from tests.reporting.report_data import late_event
from tests.reporting.sections import section


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
    cover = section((tmp_path / "out" / "report.html").read_text(encoding="utf-8"), "cover")
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
    summary = section(html, "summary")
    assert len(cases) == 3  # n.muller, t.gone, c.coder; b.glass's findings are all muted
    # the cases were opened during November (the clock says so): the month's three, one of them closed
    said = " ".join(summary.split())
    assert "This month's findings are in <strong>3</strong> cases" in said
    assert "Now, as this report is made: 2 open, 0 under review, 1 closed." in said, said
    assert "During the month itself: <strong>3</strong> cases opened and <strong>1</strong> closed; " \
           "<strong>2</strong> open at its end" in said
    assert f'<td class="num">{len(muted)}</td></tr></tbody>' in summary  # muted by suppressions
    outcomes = section(html, "outcomes")
    assert "confirmed violation</td><td class=\"num\">1</td>" in outcomes
    assert "education</td><td class=\"num\">1</td>" in outcomes
    glass = section(html, "break-glass")
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
    cover = " ".join(section(report.html(), "cover").split())
    assert "Prepared by</dt><dd>no one named: made by a program without a signed-in privacy officer" in cover


def test_the_break_glass_table_shows_each_reason_read_as_the_officer(run, month_home, tmp_path):
    """Issue 18, section 5: the reasons were nowhere to be read; now the table shows them, each opened
    through the gateway in the officer's name, and a pseudonymized report shows none."""
    from sqlalchemy import create_engine

    code, _, err = run("report", "monthly", "--month", "2026-11", "--out", tmp_path / "out", "--no-pdf")
    assert code == 0, err
    glass = section((tmp_path / "out" / "report.html").read_text(encoding="utf-8"), "break-glass")
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
    glass = section((tmp_path / "pseudo" / "report.html").read_text(encoding="utf-8"), "break-glass")
    assert "unconscious" not in glass and "on file, not shown here" in glass
    assert "A pseudonymized report shows no reason" in glass


def test_the_next_months_report_takes_the_month_before_from_its_review(run, month_home, tmp_path):
    """`report monthly` for October, then for November: November's report states October as that
    review found it (not judged again); a late October event then has it judged again."""
    assert run("audit", "checkpoint").code == 0  # as an ingest ends
    assert run("report", "monthly", "--month", "2026-10", "--out", tmp_path / "oct", "--no-pdf").code == 0
    code, _, err = run("report", "monthly", "--month", "2026-11", "--out", tmp_path / "nov", "--no-pdf")
    assert code == 0, err
    html = (tmp_path / "nov" / "report.html").read_text(encoding="utf-8")
    assert re.search(r"October 2026 as its review of \d{4}-\d{2}-\d{2} found it", html)
    vault = Vault.open(tmp_path / "home")
    try:
        late_event(vault)
    finally:
        vault.close()
    assert run("report", "monthly", "--month", "2026-11", "--out", tmp_path / "again", "--no-pdf").code == 0
    html = (tmp_path / "again" / "report.html").read_text(encoding="utf-8")
    assert "October 2026 judged again under today's rules and suppressions" in html

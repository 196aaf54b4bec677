"""Triage: one order for every list of cases (critical first, then risk, more findings, the older
case), the queue's filters and pages, and `auditor cases list` and the monthly report agreeing with it."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
from hypothesis import given, strategies as st

from auditor.cases.listing import CaseSummary
from auditor.cases.settings import CaseSettings
from auditor.clock import FixedClock
from auditor.errors import InputError
from auditor.home import create_home
from auditor.policy.findings import Finding
from auditor.reporting.templates import Site
from auditor.review.monthly import report_on
from auditor.review.period import month_period, review_period
from auditor.review.triage import TriageFilters, ranked, ranked_report_cases, triage_queue
from tests.conftest import FAST_SCRYPT
from tests.reporting.report_data import hospital_month

DECEMBER_2 = datetime(2026, 12, 2, 14, tzinfo=timezone.utc)


def _summary(case_id, risk, findings, critical, user_cases=1):
    return CaseSummary(case_id, f"u{case_id}", "open", date(2026, 11, 1), date(2026, 11, 30), DECEMBER_2, None, None,
                       None, findings, risk, user_cases, False, critical)


def _finding(case, risk, severity="medium"):
    return Finding("no-treatment-relationship", severity, f"u{case}", 1, "M", ["e"], risk, "x.", case=case,
                   first_at="2026-11-02T10:00:00+00:00", last_at="2026-11-02T10:00:00+00:00")


def test_critical_first_whatever_the_risk_then_risk_then_findings_then_the_older_case():
    cases = [_summary(1, 45, 9, False, user_cases=5), _summary(2, 60, 1, True), _summary(3, 80, 1, False),
             _summary(4, 80, 2, False), _summary(5, 95, 1, True), _summary(6, 80, 2, False)]
    assert [c.id for c in ranked(cases)] == [5, 2, 4, 6, 3, 1]


@given(st.lists(st.tuples(st.integers(1, 6), st.integers(20, 100), st.sampled_from(["medium", "critical"])),
                min_size=1, max_size=30))
def test_the_report_ranks_its_cases_as_the_list_does(items):
    """The same cases ranked from the report's findings and from the list's summaries come out in one order."""
    findings = [_finding(c, risk, severity) for c, risk, severity in items]
    from_report = [c for c, _ in ranked_report_cases(findings).cases]
    summaries = [_summary(c, max(f.risk for f in findings if f.case == c), sum(f.case == c for f in findings),
                          any(f.severity == "critical" for f in findings if f.case == c))
                 for c in sorted({f.case for f in findings})]
    assert from_report == [s.id for s in ranked(summaries)]


@pytest.fixture
def reviewed(tmp_path, policy):
    """November 2026 of tests/reporting reviewed on 2 December: cases of t.gone (a critical finding),
    n.muller, b.glass and c.coder."""
    vault = create_home(tmp_path / "home", clock=FixedClock(DECEMBER_2), scrypt_n=FAST_SCRYPT)
    hospital_month(vault)
    review = review_period(vault, month_period("2026-11", vault.timezone), policy)
    yield vault, review
    vault.close()


def test_the_queue_is_in_triage_order_and_filters_by_rule_severity_department_status(reviewed):
    vault, _ = reviewed
    settings = CaseSettings()
    queue = triage_queue(vault, settings)
    assert [(r.case.user_id, r.case.critical) for r in queue.rows] == [  # b.glass: two findings, c.coder one
        ("t.gone", True), ("n.muller", False), ("b.glass", False), ("c.coder", False)]
    assert queue.rows[0].rules == ["no-treatment-relationship", "terminated-user-access"]
    assert queue.departments == ["cardiology", "emergency", "him", "oncology"] and "vip-access" in queue.rules
    pick = lambda **f: [r.case.user_id for r in triage_queue(vault, settings, TriageFilters(**f)).rows]  # noqa: E731
    assert pick(rule="vip-access") == ["n.muller"]
    assert pick(severity="critical") == ["t.gone"]
    assert pick(severity="medium") == ["t.gone", "b.glass"]
    assert pick(department="emergency") == ["b.glass"]
    assert pick(status="closed") == [] and pick(status="any") == pick()


def test_the_queue_pages_and_refuses_values_no_one_could_choose(reviewed):
    vault, _ = reviewed
    second = triage_queue(vault, CaseSettings(), page=2, per_page=3)
    assert (second.page, second.pages, second.total, [r.case.user_id for r in second.rows]) == (2, 2, 4, ["c.coder"])
    assert triage_queue(vault, CaseSettings(), page=99, per_page=3).page == 2
    for bad in (TriageFilters(rule="no-such-rule"), TriageFilters(severity="dire"), TriageFilters(status="lost"),
                TriageFilters(department="the moon")):
        with pytest.raises(InputError, match="among the cases"):
            triage_queue(vault, CaseSettings(), bad)


def test_the_report_and_the_list_rank_the_same_cases_alike(reviewed, policy):
    vault, review = reviewed
    report = report_on(vault, review, policy, Site())
    in_report = [row["case"] for row in report.context["cases"]["rows"]]
    assert in_report == [r.case.id for r in triage_queue(vault, CaseSettings()).rows]
    assert report.context["cases"]["rows"][0]["user_id"] == "t.gone"


def test_cases_list_puts_the_critical_case_first(auditor, found):
    listed = auditor("cases", "list", clock=FixedClock(DECEMBER_2), user="investigator")
    assert listed.code == 0, listed.err
    rows = [line.split("\t") for line in listed.out.splitlines()]
    # rank, case, status, member, days, highest severity, risk, rules, findings, the member's cases
    assert [(r[0], r[3], r[5]) for r in rows] == [("1.", "t.gone", "critical"), ("2.", "n.muller", "high"),
                                                  ("3.", "b.glass", "high"), ("4.", "c.coder", "high")]
    assert rows[0][6] == "risk 91" and rows[0][7] == "no-treatment-relationship,terminated-user-access"
    assert not any("PAST THE REVIEW BUDGET" in r for r in listed.out.splitlines())
    assert listed.err.strip().endswith("4 case(s); review budget 1000 a month: 4 inside it")


def test_the_budget_keeps_the_first_cases_and_sums_up_the_rest_by_rule():
    from auditor.reporting.sections import Budget

    ranked_rules = [["terminated-user-access"], ["vip-access", "family-access"], ["after-hours"],
                    ["vip-access", "after-hours", "after-hours"], ["vip-access"]]
    budget = Budget.over(ranked_rules, 2)
    assert (budget.size, budget.inside, budget.beyond) == (2, 2, 3)
    assert budget.beyond_by_rule == {"vip-access": 2, "after-hours": 2}  # a case counts once under each of its rules
    assert list(budget.beyond_by_rule) == ["after-hours", "vip-access"]  # most cases first, then by name
    assert Budget.over(ranked_rules, 1000) == Budget(1000, 5, 0, {})


def test_the_queue_the_list_and_the_report_mark_the_same_cases_past_the_budget(reviewed, policy, auditor, tmp_path):
    vault, review = reviewed
    two = CaseSettings(review_budget=2)
    queue = triage_queue(vault, two)
    assert [(r.rank, r.case.user_id, r.inside_budget) for r in queue.rows] == [
        (1, "t.gone", True), (2, "n.muller", True), (3, "b.glass", False), (4, "c.coder", False)]
    assert (queue.budget.inside, queue.budget.beyond) == (2, 2)
    assert queue.budget.beyond_by_rule == {"break-glass-review": 1, "sensitive-record-access": 1}
    second = triage_queue(vault, two, page=2, per_page=3)
    assert [(r.rank, r.inside_budget) for r in second.rows] == [(4, False)] and second.budget == queue.budget
    report = report_on(vault, review, policy, Site(), case_settings=two)
    assert report.context["cases"]["budget"] == queue.budget.to_dict()
    html = report.html()
    assert "The first 2 cases in this order are inside it" in html and "2 more are past it" in html
    assert "<code>sensitive-record-access</code></td><td class=\"num\">1</td>" in html
    whole = report_on(vault, review, policy, Site()).html()
    assert "All 4 cases of the month are inside the office's review budget of 1,000 cases a month" in whole


@pytest.fixture
def found(auditor, tmp_path):
    """November of tests/reporting in a vault whose findings were run on 2 December (as the officer)."""
    vault = create_home(tmp_path / "home", clock=FixedClock(DECEMBER_2), scrypt_n=FAST_SCRYPT)
    try:
        hospital_month(vault)
    finally:
        vault.close()
    assert auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv",
                   clock=FixedClock(DECEMBER_2), user="officer").code == 0
    return tmp_path / "home"


def test_cases_list_marks_the_cases_past_a_site_s_budget_and_refuses_a_bad_one(auditor, found, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "cases.yaml").write_text("review_budget: 2\n")
    listed = auditor("cases", "list", "--site-policies", str(site), clock=FixedClock(DECEMBER_2), user="investigator")
    assert listed.code == 0, listed.err
    past = [line.split("\t")[3] for line in listed.out.splitlines() if line.endswith("\tPAST THE REVIEW BUDGET")]
    assert past == ["b.glass", "c.coder"]
    assert listed.err.strip() == ("4 case(s); review budget 2 a month: 2 inside it, 2 past it, by rule: "
                                  "break-glass-review 1, sensitive-record-access 1")
    as_json = auditor("cases", "list", "--site-policies", str(site), "--format", "json", clock=FixedClock(DECEMBER_2),
                      user="investigator")
    assert [(c["rank"], c["inside_budget"], c["severity"]) for c in json.loads(as_json.out)] == [
        (1, True, "critical"), (2, True, "high"), (3, False, "high"), (4, False, "high")]
    for bad in ("review_budget: 0", "review_budget: many", "review_budget: true", "review_budget: 2.5"):
        (site / "cases.yaml").write_text(bad + "\n")
        refused = auditor("cases", "list", "--site-policies", str(site), clock=FixedClock(DECEMBER_2), user="investigator")
        assert refused.code == 2 and refused.out == ""
        assert refused.err.strip().splitlines() == [
            f"auditor: {site / 'cases.yaml'}: review_budget must be a whole number of cases, 1 or more"], refused.err


def test_cases_show_gives_the_break_glass_reasons_opened_in_the_reader_s_name(auditor, found):
    """Issue 18, section 5: break-the-glass reasons could not be read anywhere but the web app."""
    from sqlalchemy import create_engine, select

    from auditor.audit.schema import AuditEventRow

    listed = auditor("cases", "list", clock=FixedClock(DECEMBER_2), user="investigator")
    case = next(line.split("\t")[1].split()[1] for line in listed.out.splitlines() if "\tb.glass\t" in line)
    shown = auditor("cases", "show", case, clock=FixedClock(DECEMBER_2), user="investigator")
    assert shown.code == 0, shown.err
    history = shown.out.split("history:\n")[1].splitlines()
    assert history[0].startswith("  2026-12-02 09:00 EST opened by svc:cases -> open")  # local, as the report
    glass = shown.out.split("break-the-glass accesses its findings cite (reasons opened as you: audited):\n")[1]
    lines = glass.split("history:")[0].splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == ["reason: unconscious in the ED", "no reason given"]
    as_json = json.loads(auditor("cases", "show", case, "--format", "json", clock=FixedClock(DECEMBER_2),
                                 user="investigator").out)
    assert [(g["reason_on_file"], g["reason"]) for g in as_json["break_glass"]] == [
        (True, "unconscious in the ED"), (False, None)]
    engine = create_engine(f"sqlite:///{found / 'records.db'}")
    with engine.connect() as conn:
        reads = conn.execute(select(AuditEventRow.user_id, AuditEventRow.role, AuditEventRow.outcome)
                             .where(AuditEventRow.record_type == "access_reason")).all()
    engine.dispose()
    assert reads == [("investigator", "investigator", "success")] * 2  # each showing opened it again, audited

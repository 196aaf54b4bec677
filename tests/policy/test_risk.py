"""The risk score (auditor.policy.findings.risk_score, README "Triage: the risk score"): the severity's
base and each documented aggravation, never past 100; and the findings of a reviewed month scored by it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from hypothesis import given, strategies as st

from auditor.clock import FixedClock
from auditor.home import create_home
from auditor.policy.findings import SEVERITY_RISK, RiskFactors, risk_score
from auditor.review.period import month_period, review_period
from tests.conftest import FAST_SCRYPT
from tests.reporting.report_data import hospital_month

factors = st.builds(RiskFactors, events=st.integers(1, 500), patients=st.integers(1, 50), days=st.integers(1, 31),
                    sensitive=st.booleans(), vip=st.booleans(), other_findings=st.integers(0, 40),
                    peer_deviation=st.integers(0, 5))


def test_each_aggravation_adds_what_the_readme_says():
    assert {s: risk_score(s) for s in SEVERITY_RISK} == {"low": 20, "medium": 45, "high": 70, "critical": 90}
    one = RiskFactors()
    assert risk_score("medium", replace(one, events=4)) == 48 and risk_score("medium", replace(one, events=40)) == 55
    assert risk_score("medium", replace(one, sensitive=True)) == 50 and risk_score("medium", replace(one, vip=True)) == 50
    assert risk_score("medium", replace(one, patients=3)) == 47 and risk_score("medium", replace(one, patients=30)) == 50
    assert risk_score("medium", replace(one, days=2)) == 46 and risk_score("medium", replace(one, days=20)) == 50
    assert risk_score("medium", replace(one, other_findings=2)) == 47
    assert risk_score("medium", replace(one, other_findings=9)) == 50
    assert risk_score("medium", replace(one, peer_deviation=3)) == 48
    assert risk_score("medium", replace(one, peer_deviation=9)) == 50
    everything = RiskFactors(50, 9, 9, True, True, 9, 5)
    assert risk_score("low", everything) == 60 and risk_score("critical", everything) == 100


@given(st.sampled_from(list(SEVERITY_RISK)), factors, st.sampled_from(
    ["events", "patients", "days", "sensitive", "vip", "other_findings", "peer_deviation"]))
def test_the_score_stays_between_its_base_and_100_and_never_falls_as_a_factor_grows(severity, f, name):
    score = risk_score(severity, f)
    assert SEVERITY_RISK[severity] <= score <= 100
    value = getattr(f, name)
    more = replace(f, **{name: True if isinstance(value, bool) else value + 1})
    assert risk_score(severity, more) >= score


def test_a_reviewed_month_s_findings_carry_their_aggravations(tmp_path, policy):
    vault = create_home(tmp_path / "home", clock=FixedClock(datetime(2026, 12, 2, 14, tzinfo=timezone.utc)),
                        scrypt_n=FAST_SCRYPT)
    try:
        hospital_month(vault)
        review = review_period(vault, month_period("2026-11", vault.timezone), policy)
    finally:
        vault.close()
    risk = {(f.user_id, f.rule): f.risk for f in review.findings}
    assert risk[("c.coder", "sensitive-record-access")] == 70 + 5  # a sensitive record
    assert risk[("n.muller", "vip-access")] == 70 + 5 + 3  # a VIP's chart; three other findings
    assert risk[("n.muller", "family-access")] == 70 + 3
    assert risk[("t.gone", "terminated-user-access")] == 90 + 1  # one other finding

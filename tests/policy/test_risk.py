"""The risk score (auditor.policy.findings.risk_score, README "Triage: the risk score"): the severity's
base and each documented aggravation, never past 100; and the findings of a reviewed month scored by it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from hypothesis import given, strategies as st

from auditor.clock import FixedClock
from auditor.home import create_home
from auditor.policy.findings import EXPECTED_MOST, SEVERITY_RISK, RiskFactors, risk_score
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


@given(st.sampled_from(list(SEVERITY_RISK)), factors)
def test_an_expected_gap_scores_5_plus_its_aggravations_below_every_finding_with_a_ground(severity, f):
    expected = replace(f, expected=True)
    plain = RiskFactors(f.events, f.patients, f.days, f.sensitive, f.vip, f.other_findings, f.peer_deviation)
    assert risk_score(severity, expected) == min(EXPECTED_MOST, 5 + risk_score(severity, plain) - SEVERITY_RISK[severity]) \
        or risk_score(severity, plain) == 100
    assert 5 <= risk_score(severity, expected) <= EXPECTED_MOST < min(SEVERITY_RISK.values())
    assert risk_score(severity, replace(expected, events=f.events + 1)) >= risk_score(severity, expected)


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
    assert risk[("c.coder", "sensitive-record-access")] == 70  # the rule's severity stands for the record
    assert risk[("n.muller", "vip-access")] == 70 + 3  # three other findings; the VIP is the rule's own ground
    assert risk[("n.muller", "family-access")] == 70 + 3
    assert risk[("t.gone", "terminated-user-access")] == 90 + 1  # one other finding


def _ward_month(policy, gaps: dict[str, list[int]], strangers: tuple[str, ...] = (), patient_2: dict | None = None,
                rule: str = "no-treatment-relationship", staff_extra: tuple[dict, ...] = ()):
    """Six Cardiology nurses, 40 explained accesses each (patient 1, a Cardiology encounter), and the
    unexplained ones `gaps` gives per nurse: the patients opened once each (2: an Oncology patient in
    care, with `patient_2`'s attributes; 3: nobody's patient). The findings of `rule`."""
    from auditor.policy import engine
    from auditor.policy.examples import frames_from_tables
    from auditor.policy.findings import build_findings

    nurses = [f"n.{i}" for i in range(6)]
    events = [{"id": f"{n}-{k}", "at": f"2026-11-{1 + k % 20:02d}T10:{k:02d}:00", "user_id": n, "patient_id": 1}
              for n in nurses for k in range(40)]
    events += [{"id": f"{n}-gap-{k}", "at": f"2026-11-{2 + k:02d}T11:00:00", "user_id": n, "patient_id": p}
               for n, patients in gaps.items() for k, p in enumerate(patients)]
    encounters = [{"patient_id": 1, "department": "Cardiology", "attending": None,
                   "start": "2026-10-25T09:00:00", "end": "2026-11-30T09:00:00"},
                  {"patient_id": 2, "department": "Oncology", "attending": None,
                   "start": "2026-10-25T09:00:00", "end": "2026-11-30T09:00:00"}]
    # an account the workforce file does not know: only its gaps, its role only what its events say
    events = [e for e in events if e["user_id"] not in strangers or "-gap-" in e["id"]]
    events = [{**e, "role": "nurse"} if e["user_id"] in strangers else e for e in events]
    staff = [{"user_id": n, "role": "nurse", "department": "Cardiology"} for n in nurses if n not in strangers]
    patients = [{"patient_id": 1}, {"patient_id": 2, **(patient_2 or {})}, {"patient_id": 3}]
    frames = frames_from_tables(workforce=staff + list(staff_extra), patients=patients, encounters=encounters,
                                events=events)
    found = build_findings(engine.run(frames, policy), policy)
    return {(f.user_id, f.patient_id): (f.risk, f.explanation) for f in found if f.rule == rule}


def test_a_gap_the_peers_leave_too_on_a_patient_in_care_ranks_below_every_grounded_finding(policy):
    found = _ward_month(policy, {"n.0": [2], "n.1": [2], "n.2": [2], "n.3": [2], "n.4": [3], "n.5": [2] * 12})
    risk = {key: score for key, (score, _) in found.items()}
    assert risk[("n.0", 2)] == 5 and risk[("n.3", 2)] == 5  # an expected gap: nothing above the 5
    assert risk[("n.4", 3)] == 45  # the same nurse's rate, but a patient nobody was treating
    assert risk[("n.5", 2)] >= 45  # 12 against a peer median of 1: past chance, so not expected
    assert found[("n.0", 2)][1].endswith("Ranked as an expected gap: the patient was in the organisation's care "
                                         "then, and this member's unexplained accesses are at their peers' rate.")
    assert "expected gap" not in found[("n.4", 3)][1] + found[("n.5", 2)][1]


def test_peers_without_gaps_make_no_gap_expected(policy):
    assert _ward_month(policy, {"n.0": [2]})[("n.0", 2)][0] == 45


def test_an_account_the_workforce_does_not_know_makes_no_gap_expected_whatever_its_export_says(policy):
    # n.0's events say "nurse", but the workforce file does not know n.0: its role is only the export's word
    found = _ward_month(policy, {f"n.{i}": [2] for i in range(6)}, strangers=("n.0",))
    assert found[("n.0", 2)][0] == 45 and found[("n.1", 2)][0] == 5


def test_a_vip_s_gap_is_expected_too_and_ranks_first_among_the_gaps(policy):
    # the VIP flag says who the patient is to the public, not to the member (policies/engine.yaml)
    every = {f"n.{i}": [2] for i in range(6)}
    vip = _ward_month(policy, every, patient_2={"vip": True}, rule="vip-access")
    assert vip[("n.0", 2)][0] == 10  # 5 + the VIP's 5, which the rule's severity no longer stands for
    assert vip[("n.0", 2)][1].endswith("Ranked as an expected gap: the patient was in the organisation's care then, "
                                       "and this member's unexplained accesses are at their peers' rate.")
    assert _ward_month(policy, every)[("n.0", 2)][0] == 5 < 10  # a plain gap ranks after it
    above = _ward_month(policy, {**every, "n.5": [2] * 12}, patient_2={"vip": True}, rule="vip-access")
    assert above[("n.5", 2)][0] >= 70  # far above the peers: grounded, with its severity


def test_a_coworker_s_gap_is_never_expected(policy):
    # patient 2 is an Oncology patient in care, and a Cardiology colleague: the tie is snooping's motive
    colleague = ({"user_id": "c.lee", "role": "physician", "department": "Cardiology", "own_patient_id": 2},)
    found = _ward_month(policy, {f"n.{i}": [2] for i in range(6)}, rule="coworker-access", staff_extra=colleague)
    assert {risk for risk, _ in found.values()} == {70}
    assert not any("expected gap" in text for _, text in found.values())


def test_a_site_that_reviews_every_vip_gap_names_its_expected_gaps(policy, tmp_path):
    from auditor.policy.rules import load_policy

    site = tmp_path / "site"
    site.mkdir()
    (site / "engine.yaml").write_text("explanations: {}\nexpected_gaps: [no-treatment-relationship]\n")
    strict = load_policy(site_dir=site)
    found = _ward_month(strict, {f"n.{i}": [2] for i in range(6)}, patient_2={"vip": True}, rule="vip-access")
    assert found[("n.0", 2)][0] == 70 and "expected gap" not in found[("n.0", 2)][1]

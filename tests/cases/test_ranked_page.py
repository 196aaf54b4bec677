"""The database's page of cases is the triage order: cases generated with ties on every key (critical,
highest risk, number of findings), read a page at a time with listing.ranked_page, come out exactly as
sorting every summary with auditor.review.triage.triage_order, under every filter, on SQLite and
PostgreSQL; and each summary's counts are the generated findings' that no suppression muted."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from sqlalchemy import delete, insert

from auditor import database
from auditor.cases import listing
from auditor.cases.settings import CaseSettings
from auditor.review.triage import ranked
from auditor.vault.records import Case, CaseFinding, MutedFinding, Suppression, WorkforceMember

NOW = datetime(2026, 12, 2, 14, tzinfo=timezone.utc)
RULES = ("after-hours", "vip-access", "family-access")
SEVERITIES = ("low", "medium", "high", "critical")
OVERDUE = CaseSettings().overdue_after_days  # opened exactly this long ago: not yet overdue

finding = st.tuples(st.sampled_from(RULES), st.sampled_from(SEVERITIES), st.sampled_from((20, 45, 70, 100)),
                    st.booleans())  # muted in its case
generated_case = st.tuples(st.sampled_from(("u1", "u2", "u3")), st.sampled_from(("open", "under_review", "closed")),
                           st.sampled_from((0, OVERDUE - 1, OVERDUE, OVERDUE + 1)),  # days open: overdue or not
                           st.lists(finding, max_size=4))
filters = st.fixed_dictionaries({}, optional={
    "status": st.sampled_from(("open", "under_review", "closed", "overdue", listing.NOT_CLOSED)),
    "rule": st.sampled_from(RULES), "severity": st.sampled_from(SEVERITIES),
    "user_ids": st.lists(st.sampled_from(("u1", "u2", "u3")), min_size=1)})


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def records(request, tmp_path):
    url = (request.getfixturevalue("fresh_postgres_db")() if request.param == "postgres"
           else f"sqlite:///{tmp_path / 'records.db'}")
    engine = database.connect(url, must_exist=False)
    database.upgrade("records", engine)
    yield engine
    engine.dispose()


def _store(records, cases) -> None:
    with records.begin() as conn:
        conn.execute(delete(MutedFinding))
        conn.execute(delete(CaseFinding))
        conn.execute(delete(Case))
        conn.execute(delete(WorkforceMember))
        conn.execute(delete(Suppression))
        conn.execute(insert(Suppression).values(id=1, rule="vip-access", user_id="u1", expires_on=date(2026, 12, 31),
                                                approver="o", data_key_id=1, reason=b"sealed", created_at=NOW))
        row_id = 0
        for case_id, (user, status, age, found) in enumerate(cases, start=1):
            conn.execute(insert(Case).values(
                id=case_id, user_id=user, status=status, first_day=date(2026, 11, 1), last_day=date(2026, 11, 30),
                opened_at=NOW - timedelta(days=age), closed_at=NOW if status == "closed" else None,
                data_key_id=1))
            for rule, severity, risk, muted in found:
                row_id += 1
                conn.execute(insert(CaseFinding).values(
                    id=row_id, case_id=case_id, finding_key=f"k{row_id}", rule=rule, severity=severity, risk=risk,
                    event_ids="[]", first_at=NOW, last_at=NOW, added_at=NOW))
                if muted:
                    conn.execute(insert(MutedFinding).values(case_finding_id=row_id, case_id=case_id,
                                                             suppression_id=1, muted_at=NOW))


def _meets(summary, generated, chosen) -> bool:
    """The filters decided in Python from the generated case (overdue: listing.is_overdue)."""
    user, status, _, found = generated
    wanted = chosen.get("status")
    return ((wanted is None or status == wanted or (wanted == listing.NOT_CLOSED and status != "closed")
             or (wanted == "overdue" and summary.overdue))
            and ("rule" not in chosen or any(rule == chosen["rule"] and not muted for rule, _, _, muted in found))
            and ("severity" not in chosen or any(severity == chosen["severity"] and not muted
                                                 for _, severity, _, muted in found))
            and ("user_ids" not in chosen or user in chosen["user_ids"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=st.lists(generated_case, max_size=14), chosen=filters, per_page=st.integers(1, 5))
@example(cases=[("u1", "open", OVERDUE, []), ("u2", "open", OVERDUE + 1, [])], chosen={"status": "overdue"},
         per_page=1)  # the boundary: opened exactly overdue_after ago is not overdue
@example(cases=[("u1", "open", 0, [("vip-access", "critical", 100, True), ("after-hours", "low", 20, False)]),
                ("u2", "open", 0, [("vip-access", "high", 70, False)]), ("u3", "open", 0, [("vip-access", "low", 20, True)])],
         chosen={"rule": "vip-access"}, per_page=3)  # a muted critical finding ranks nothing; u3's: all muted
def test_the_database_pages_cases_in_triage_order(records, cases, chosen, per_page):
    _store(records, cases)
    case_settings = CaseSettings()
    every = listing.summaries(records, case_settings, NOW)
    expected = ranked([c for c in every if _meets(c, cases[c.id - 1], chosen)])
    conditions = listing.filter_conditions(case_settings, NOW, **chosen)
    paged, offset = [], 0
    while True:
        page, total = listing.ranked_page(records, case_settings, NOW, conditions, offset, per_page)
        assert total == len(expected)
        paged += page
        offset += per_page
        if offset >= total:
            break
    assert [c.id for c in paged] == [c.id for c in expected]
    assert paged == expected
    for summary in paged:  # the counts the order ranks by are the generated findings' left unmuted
        user, status, _, found = cases[summary.id - 1]
        unmuted = [(rule, severity, risk) for rule, severity, risk, muted in found if not muted]
        assert (summary.user_id, summary.status, summary.findings) == (user, status, len(unmuted))
        assert summary.muted == len(found) - len(unmuted)
        assert summary.max_risk == max((risk for _, _, risk in unmuted), default=0)
        assert summary.critical == any(severity == "critical" for _, severity, _ in unmuted)
        assert summary.user_cases == sum(c[0] == user for c in cases)
    ids = [c.id for c in paged]  # what cases list and the queue show beside the rank: unmuted findings only
    assert listing.rules_of(records, ids) == {
        c: sorted({rule for rule, _, _, muted in cases[c - 1][3] if not muted}) for c in ids
        if any(not muted for *_, muted in cases[c - 1][3])}
    assert listing.severities_of(records, ids) == {
        c: max((s for _, s, _, muted in cases[c - 1][3] if not muted), key=SEVERITIES.index) for c in ids
        if any(not muted for *_, muted in cases[c - 1][3])}


def test_the_choices_are_the_rules_and_departments_of_the_cases(records):
    """The queue's choices, read by index probes: every rule some case has a finding of; the departments
    (trimmed, case-folded) of members with a case, each with the names on file that read as it."""
    _store(records, [("u1", "open", 0, [("vip-access", "low", 20, False), ("after-hours", "high", 70, True)]),
                     ("u2", "closed", 0, [("vip-access", "critical", 100, False)]), ("u3", "open", 0, []),
                     ("u4", "open", 0, [])])
    with records.begin() as conn:
        for n, (user, department) in enumerate([("u1", " Cardiology"), ("u2", "cardiology "), ("u3", "Oncology"),
                                                ("u4", None), ("u9", "Radiology")], start=1):  # u9: no case
            conn.execute(insert(WorkforceMember).values(id=n, user_id=user, data_key_id=1, role="nurse",
                                                        department=department, created_at=NOW))
    assert listing.case_rules(records) == ["after-hours", "vip-access"]
    assert listing.case_departments(records) == {"cardiology": [" Cardiology", "cardiology "], "oncology": ["Oncology"]}
    assert listing.member_departments(records, ["u2", "u4", "u9"]) == {"u2": "cardiology", "u9": "radiology"}

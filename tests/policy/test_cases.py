"""Cases: one per member and period, idempotent reruns, open -> under review -> closed with a
disposition and a sanction, append-only history, sealed notes, every change audited, and the
counts the monthly report asks for by period."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DatabaseError

from auditor.audit.events import AuditEvent
from auditor.audit.schema import AuditEventRow
from auditor.cases import workflow
from auditor.cases.attach import attach_findings
from auditor.cases.listing import case_file, list_cases
from auditor.review.period import review_period
from auditor.cases.settings import CaseSettings, load_case_settings
from auditor.cases.statistics import case_statistics, overdue_during
from auditor.errors import ConfigurationError, NotFound
from auditor.home import create_home
from auditor.policy.findings import Finding
from auditor.policy.frames import Period
from auditor.vault.gateway.casework import Casework
from auditor.vault.gateway.directory import ReportDirectory
from auditor.vault.records import Case, CaseFinding, CaseHistoryEntry
from tests.conftest import FAST_SCRYPT
from tests.policy.test_cli import home  # noqa: F401  (a fixture)
from tests.policy.vault_data import populate

NEW_YORK = ZoneInfo("America/New_York")
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30), NEW_YORK)
SETTINGS = CaseSettings(30)
NOTE = "Spoke with the nurse about Zoë Müller's chart"


@pytest.fixture
def local_vault(tmp_path, clock):
    """SQLite only, for the tests that do not depend on the database."""
    v = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    yield v
    v.close()


def _accesses(vault, ids, *views):
    """Append EHR view events: (event id, user, MRN, UTC datetime)."""
    events = [AuditEvent(at=at, action="view", user_id=user, role="nurse" if user == "n.muller" else "physician",
                         patient_id=ids[mrn], source="ehr", source_event_id=eid) for eid, user, mrn, at in views]
    with vault.records.begin() as conn:
        appended = vault.audit_log.append(conn, events)
    vault.audit_log.after_commit(appended, len(events))


def _count(vault, model) -> int:
    with vault.records.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


def _case_events(vault) -> list:
    with vault.records.connect() as conn:
        return conn.execute(select(AuditEventRow.user_id, AuditEventRow.action, AuditEventRow.record_id,
                                   AuditEventRow.patient_id, AuditEventRow.detail)
                            .where(AuditEventRow.record_type == "case").order_by(AuditEventRow.seq)).all()


def _history(vault, case_id) -> list:
    with vault.records.connect() as conn:
        return conn.execute(select(CaseHistoryEntry.position, CaseHistoryEntry.action, CaseHistoryEntry.by,
                                   CaseHistoryEntry.status).where(CaseHistoryEntry.case_id == case_id)
                            .order_by(CaseHistoryEntry.position)).all()


def _log_size(vault) -> int:
    return _count(vault, AuditEventRow)


def test_a_members_findings_form_one_case_and_reruns_add_nothing(vault, policy):
    populate(vault)
    first = review_period(vault, NOVEMBER, policy)
    (case_id,) = first.attachment.opened
    assert [f.case for f in first.findings] == [case_id] * 3 and first.attachment.added == 3
    assert [(h.action, h.by, h.status) for h in _history(vault, case_id)] == [("opened", "svc:cases", "open")]
    (event,) = _case_events(vault)
    assert event.user_id == "svc:cases" and event.action == "create" and event.record_id == str(case_id)
    counts = (_count(vault, Case), _count(vault, CaseFinding), _count(vault, CaseHistoryEntry), len(_case_events(vault)))
    again = review_period(vault, NOVEMBER, policy)
    narrower = review_period(vault, Period(date(2026, 11, 2), date(2026, 11, 2), NEW_YORK), policy)
    for rerun in (again, narrower):
        assert rerun.attachment.opened == [] and rerun.attachment.added == 0 and rerun.attachment.already == 3
        assert [f.case for f in rerun.findings] == [case_id] * 3
    assert (_count(vault, Case), _count(vault, CaseFinding), _count(vault, CaseHistoryEntry),
            len(_case_events(vault))) == counts


def test_an_open_case_is_extended_and_a_closed_one_is_final(local_vault, policy):
    ids = populate(local_vault)
    (case_id,) = review_period(local_vault, NOVEMBER, policy).attachment.opened
    _accesses(local_vault, ids, ("ehr-9", "n.muller", "P-FAM", datetime(2026, 12, 3, 15, tzinfo=timezone.utc)))
    december = Period(date(2026, 12, 1), date(2026, 12, 31), NEW_YORK)
    extended = review_period(local_vault, december, policy)
    assert extended.attachment.extended == [case_id] and [f.case for f in extended.findings] == [case_id]
    (case,) = list_cases(local_vault.records, SETTINGS, local_vault.clock.now())
    assert (case.first_day, case.last_day, case.findings) == (date(2026, 11, 1), date(2026, 12, 31), 4)
    assert [h.action for h in _history(local_vault, case_id)] == ["opened", "findings_added"]
    both = review_period(local_vault, Period(date(2026, 11, 1), date(2026, 12, 31), NEW_YORK), policy)
    family = next(f for f in both.findings if f.rule == "family-access")
    assert family.event_ids == ["ehr-1", "ehr-9"] and family.case == case_id  # its events are all in the case
    assert both.attachment.added == 0 and len(_history(local_vault, case_id)) == 2
    casework = Casework(local_vault.gateway)
    workflow.start_review(casework, case_id, "Chief Privacy Officer")
    workflow.close_case(casework, case_id, "confirmed_violation", "education", "Chief Privacy Officer")
    _accesses(local_vault, ids, ("ehr-10", "n.muller", "P-FAM", datetime(2026, 12, 20, 15, tzinfo=timezone.utc)))
    fresh = review_period(local_vault, december, policy)
    (new_case,) = fresh.attachment.opened
    assert new_case != case_id and {f.case for f in fresh.findings} == {new_case}


def test_cases_are_listed_in_triage_order_critical_first(local_vault, policy):
    """auditor.review.triage ranks the list: a terminated account's critical finding first, then the
    highest risk, whoever has more cases or findings."""
    from auditor.review.casework import list_cases as ranked_cases
    from auditor.vault.gateway import AccessContext, WorkforceRecord

    ids = populate(local_vault)
    (first,) = review_period(local_vault, NOVEMBER, policy).attachment.opened
    casework = Casework(local_vault.gateway)
    workflow.start_review(casework, first, "CPO")
    workflow.close_case(casework, first, "confirmed_violation", "written_warning", "CPO")
    local_vault.gateway.register_workforce(AccessContext.service("import"), [
        WorkforceRecord("t.gone", "nurse", "Tom", "Gone", department="Oncology", hire_date=date(2019, 1, 1),
                        termination_date=date(2026, 11, 1))])
    at = datetime(2026, 11, 20, 15, tzinfo=timezone.utc)
    _accesses(local_vault, ids, ("ehr-20", "n.muller", "P-FAM", at), ("ehr-21", "dr.lee", "P-FAM", at),
              ("ehr-22", "dr.lee", "P-NEI", at + timedelta(minutes=1)), ("ehr-23", "t.gone", "P-OK", at))
    review_period(local_vault, Period(date(2026, 11, 20), date(2026, 11, 20), NEW_YORK), policy)
    open_cases = ranked_cases(local_vault, SETTINGS, status="open")
    assert [(c.user_id, c.critical) for c in open_cases] == [("t.gone", True), ("n.muller", False),
                                                             ("dr.lee", False)]
    assert open_cases[1].max_risk > open_cases[2].max_risk and open_cases[1].findings < open_cases[2].findings
    assert [c.id for c in ranked_cases(local_vault, SETTINGS, status="closed")] == [first]


def test_a_finding_keeps_its_rank_in_the_run_apart_from_its_case(local_vault, policy):
    """The run ranks its members (rank 1 first); the case store says which case a finding is in."""
    ids = populate(local_vault)
    (first,) = review_period(local_vault, NOVEMBER, policy).attachment.opened
    casework = Casework(local_vault.gateway)
    workflow.start_review(casework, first, "CPO")
    workflow.close_case(casework, first, "not_a_violation", "none", "CPO")
    at = datetime(2026, 11, 20, 15, tzinfo=timezone.utc)
    _accesses(local_vault, ids, ("ehr-20", "n.muller", "P-FAM", at),
              ("ehr-21", "dr.lee", "P-FAM", at), ("ehr-22", "dr.lee", "P-NEI", at + timedelta(minutes=1)))
    run = review_period(local_vault, Period(date(2026, 11, 20), date(2026, 11, 20), NEW_YORK), policy)
    lee, muller = sorted(run.attachment.opened)  # new cases, opened in the order of the user ids
    assert [(f.user_id, f.rank, f.case) for f in run.findings] == [("dr.lee", 1, lee), ("dr.lee", 1, lee),
                                                                   ("n.muller", 2, muller)]
    assert all("rank" not in f.to_dict() and f.to_dict()["case"] == f.case for f in run.findings)


def test_review_close_note_and_invalid_transitions(vault, policy):
    populate(vault)
    (case_id,) = review_period(vault, NOVEMBER, policy).attachment.opened
    casework = Casework(vault.gateway)

    def refused(call, *args, match):
        size, history = _log_size(vault), len(_history(vault, case_id))
        with pytest.raises((workflow.InvalidTransition, NotFound), match=match):
            call(casework, *args)
        assert (_log_size(vault), len(_history(vault, case_id))) == (size, history)

    refused(workflow.close_case, case_id, "false_positive", "none", "CPO", match="is open: review it first")
    workflow.start_review(casework, case_id, "CPO", "starting")
    refused(workflow.start_review, case_id, "CPO", match="only an open case")
    refused(workflow.close_case, case_id, "not_a_violation", "suspension", "CPO", match="only for a confirmed_violation")
    refused(workflow.close_case, case_id, "maybe", "none", "CPO", match="unknown disposition")
    refused(workflow.add_note, 999, "CPO", "x", match="no case 999")
    refused(workflow.add_note, case_id, "CPO", "  ", match="--text is required")
    workflow.add_note(casework, case_id, "CPO", NOTE)
    workflow.close_case(casework, case_id, "confirmed_violation", "written_warning", "CPO", "warned")
    refused(workflow.close_case, case_id, "confirmed_violation", "termination", "CPO", match="already closed")
    refused(workflow.start_review, case_id, "CPO", match="only an open case")
    workflow.add_note(casework, case_id, "CPO", "warning letter filed")  # notes after closing are allowed
    assert [(h.position, h.action, h.status) for h in _history(vault, case_id)] == [
        (1, "opened", "open"), (2, "review_started", "under_review"), (3, "note", "under_review"),
        (4, "closed", "closed"), (5, "note", "closed")]
    assert [(e.action, e.detail) for e in _case_events(vault)][1:] == [
        ("review", f"case {case_id} put under review by CPO"), ("create", f"note added to case {case_id} by CPO"),
        ("update", f"case {case_id} closed by CPO: confirmed_violation, sanction written_warning"),
        ("create", f"note added to case {case_id} by CPO")]
    (case,) = list_cases(vault.records, SETTINGS, vault.clock.now())
    assert (case.status, case.disposition, case.sanction) == ("closed", "confirmed_violation", "written_warning")


def test_the_history_is_append_only_in_the_database(vault, policy):
    populate(vault)
    (case_id,) = review_period(vault, NOVEMBER, policy).attachment.opened
    for statement in (update(CaseHistoryEntry).values(by="someone else"), text("DELETE FROM case_history")):
        with pytest.raises(DatabaseError, match="append-only"):
            with vault.records.begin() as conn:
                conn.execute(statement)
    assert [h.by for h in _history(vault, case_id)] == ["svc:cases"]


def test_the_case_file_opens_sentences_and_notes_audited(local_vault, policy, tmp_path):
    ids = populate(local_vault)
    (case_id,) = review_period(local_vault, NOVEMBER, policy).attachment.opened
    casework = Casework(local_vault.gateway)
    workflow.add_note(casework, case_id, "CPO", NOTE)
    for path in (tmp_path / "home").glob("records.db*"):
        data = path.read_bytes()
        assert "Müller".encode() not in data and b"MULLER" not in data and b"Spoke with the nurse" not in data
    size = _log_size(local_vault)
    file = case_file(casework, ReportDirectory(local_vault.gateway), case_id, SETTINGS, local_vault.clock.now())
    assert {(f.rule, f.mrn) for f in file.findings} == {("family-access", "P-FAM"), ("neighbor-access", "P-NEI"),
                                                        ("coworker-access", "P-COW")}
    family = next(f for f in file.findings if f.rule == "family-access")
    assert family.explanation.startswith("Nurse Z. MULLER (Cardiology) opened the chart") and family.event_ids == ["ehr-1"]
    assert [(h.action, h.note) for h in file.history] == [("opened", None), ("note", NOTE)]
    views = [e for e in _case_events(local_vault) if e.action == "view"]
    assert {e.patient_id for e in views} == {None, ids["P-FAM"], ids["P-NEI"], ids["P-COW"]}
    assert _log_size(local_vault) > size  # the MRNs too, read as svc:report
    with pytest.raises(NotFound):
        case_file(casework, ReportDirectory(local_vault.gateway), 404, SETTINGS, local_vault.clock.now())


def test_counts_by_period_for_the_monthly_report(local_vault, policy, clock):
    ids = populate(local_vault)
    (first,) = review_period(local_vault, NOVEMBER, policy).attachment.opened  # opened 2026-11-02 14:00 UTC
    casework = Casework(local_vault.gateway)
    clock.at = datetime(2026, 12, 10, 15, tzinfo=timezone.utc)
    workflow.start_review(casework, first, "CPO")
    workflow.close_case(casework, first, "confirmed_violation", "education", "CPO")
    clock.at = datetime(2026, 12, 15, 15, tzinfo=timezone.utc)
    _accesses(local_vault, ids, ("ehr-30", "n.muller", "P-FAM", datetime(2026, 12, 14, 15, tzinfo=timezone.utc)))
    (second,) = review_period(local_vault, Period(date(2026, 12, 1), date(2026, 12, 31), NEW_YORK),
                             policy).attachment.opened
    month = lambda y, m, last: Period(date(y, m, 1), date(y, m, last), NEW_YORK)  # noqa: E731
    now = datetime(2027, 2, 1, tzinfo=timezone.utc)
    nov = case_statistics(local_vault.records, month(2026, 11, 30), SETTINGS, now)
    assert (nov.opened, nov.closed, nov.overdue) == ([first], [], [])  # due 2026-12-02
    dec = case_statistics(local_vault.records, month(2026, 12, 31), SETTINGS, now)
    assert (dec.opened, dec.closed, dec.overdue) == ([second], [first], [first])  # overdue 12-02 to 12-10
    assert dec.dispositions == {"false_positive": 0, "not_a_violation": 0, "confirmed_violation": 1}
    assert dec.sanctions["education"] == 1 and sum(dec.sanctions.values()) == 1
    jan = case_statistics(local_vault.records, month(2027, 1, 31), SETTINGS, now)
    assert (jan.opened, jan.closed, jan.overdue) == ([], [], [second])  # due 2027-01-14
    early = case_statistics(local_vault.records, month(2027, 1, 31), SETTINGS, datetime(2027, 1, 10, tzinfo=timezone.utc))
    assert early.overdue == []  # not yet due on the day the report is made
    overdue = list_cases(local_vault.records, SETTINGS, now, status="overdue")
    assert [c.id for c in overdue] == [second] and overdue[0].overdue


@given(st.integers(0, 60), st.one_of(st.none(), st.integers(0, 60)), st.integers(0, 60), st.integers(0, 60),
       st.integers(1, 20))
def test_overdue_during_agrees_with_looking_at_every_moment(opened, closed_after, start, length, days):
    """Integer days; every half day of the period is looked at (a non-empty open interval between
    integers always holds one)."""
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    at = lambda d: base + timedelta(days=d)  # noqa: E731
    closed = None if closed_after is None else opened + closed_after
    moments = [start + k / 2 for k in range(2 * length)]
    expected = any(t - opened > days and (closed is None or t < closed) for t in moments)
    got = overdue_during(at(opened), None if closed is None else at(closed), at(start), at(start + length),
                         timedelta(days=days))
    assert got == expected


_FINDINGS = st.lists(st.builds(
    lambda rule, user, events, muted: Finding(
        rule=rule, severity="medium", user_id=user, patient_id=None, mrn=None, event_ids=sorted(events), risk=45,
        explanation=f"{user} did {rule}.", muted=muted, first_at="2026-11-02T15:00:00+00:00",
        last_at="2026-11-02T16:00:00+00:00"),
    st.sampled_from(["after-hours-access", "bulk-export"]), st.sampled_from(["u1", "u2", "u3"]),
    st.sets(st.sampled_from([f"e{i}" for i in range(8)]), min_size=1, max_size=4), st.booleans()), max_size=8)


def test_a_member_left_two_open_cases_has_new_findings_put_into_the_newer(local_vault, policy):
    """Two open cases of one member (left by runs from before runs took turns) take the next findings
    in the newer one, as the module says."""
    ids = populate(local_vault)
    (older,) = review_period(local_vault, NOVEMBER, policy).attachment.opened
    with local_vault.records.begin() as conn:
        row = conn.execute(select(Case).where(Case.id == older)).one()
        conn.execute(Case.__table__.insert(), [{"user_id": row.user_id, "status": "open", "first_day": row.first_day,
                                                "last_day": row.last_day, "opened_at": row.opened_at,
                                                "data_key_id": row.data_key_id}])
        newer = conn.scalar(select(func.max(Case.id)))
    _accesses(local_vault, ids, ("ehr-9", "n.muller", "P-FAM", datetime(2026, 12, 3, 15, tzinfo=timezone.utc)))
    december = review_period(local_vault, Period(date(2026, 12, 1), date(2026, 12, 31), NEW_YORK), policy)
    assert newer > older and december.attachment.extended == [newer] and december.attachment.opened == []
    assert {f.case for f in december.findings} == {newer}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=_FINDINGS)
def test_attaching_twice_adds_nothing_and_cases_belong_to_their_user(local_vault, batch):
    casework = Casework(local_vault.gateway)
    attach_findings(casework, batch, date(2026, 11, 1), date(2026, 11, 30))
    placed = [(f.user_id, f.case) for f in batch]
    counts = (_count(local_vault, Case), _count(local_vault, CaseFinding), _count(local_vault, CaseHistoryEntry))
    again = attach_findings(casework, [Finding(**{**f.__dict__, "case": None}) for f in batch],
                            date(2026, 11, 1), date(2026, 11, 30))
    assert again.added == 0 and again.opened == [] and again.extended == []
    assert (_count(local_vault, Case), _count(local_vault, CaseFinding), _count(local_vault, CaseHistoryEntry)) == counts
    with local_vault.records.connect() as conn:
        owner = dict(conn.execute(select(Case.id, Case.user_id)).all())
    for f, (user, case) in zip(batch, placed):
        assert case is None or owner[case] == user
        assert case is not None or f.muted


def test_case_settings(tmp_path):
    assert load_case_settings().overdue_after_days == 30
    (tmp_path / "cases.yaml").write_text("overdue_after_days: 14\n")
    assert load_case_settings(site_dir=tmp_path).overdue_after_days == 14
    for bad in ("overdue_after_days: 0\n", "overdue_after_days: soon\n", "- 1\n"):
        (tmp_path / "cases.yaml").write_text(bad)
        with pytest.raises(ConfigurationError, match="cases.yaml"):
            load_case_settings(site_dir=tmp_path)


# -- the CLI ------------------------------------------------------------------------------------------
def test_cli_findings_cases_review_note_close(auditor, home, tmp_path):  # noqa: F811
    populate(home)
    code, out, err = auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--out", str(tmp_path / "f.json"),
                             user="officer")
    assert code == 0 and "in 1 case(s) (1 opened, 3 finding(s) newly attached)" in out
    assert {f["case"] for f in json.loads((tmp_path / "f.json").read_text())} == {1}
    code, out, err = auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv", user="officer")
    assert code == 0 and "(0 opened, 0 finding(s) newly attached)" in err
    assert {line.split(",")[0] for line in out.splitlines()[1:]} == {"1"}
    code, out, _ = auditor("cases", "list", user="investigator")
    assert code == 0 and out.startswith("1.\tcase 1\topen\tn.muller\t2026-11-01 to 2026-11-30\thigh\trisk 72\t"
                                        "coworker-access,family-access,neighbor-access\t3 finding(s)")
    code, out, _ = auditor("cases", "review", "1", "--note", NOTE, user="investigator")
    assert code == 0 and out.strip() == "case 1 under review"
    code, out, _ = auditor("cases", "note", "1", "--text", "interviewed", user="investigator")
    assert code == 0 and out.strip() == "note added to case 1"
    code, out, _ = auditor("cases", "close", "1", "--disposition", "confirmed_violation", "--sanction",
                           "written_warning", user="officer")
    assert code == 0 and out.strip() == "case 1 closed: confirmed_violation, sanction written_warning"
    code, out, _ = auditor("cases", "show", "1", user="officer")
    assert code == 0 and "family-access (high, risk 72) mrn P-FAM events ehr-1" in out
    assert f"note: {NOTE}" in out and "review_started by investigator" in out and "closed by officer -> closed" in out
    code, out, _ = auditor("cases", "show", "1", "--format", "json", user="officer")
    assert [h["action"] for h in json.loads(out)["history"]] == ["opened", "review_started", "note", "closed"]
    code, out, _ = auditor("cases", "list", "--status", "closed", "--format", "json", user="officer")
    assert [(c["id"], c["sanction"]) for c in json.loads(out)] == [(1, "written_warning")]
    code, out, _ = auditor("cases", "list", "--status", "open", "--from", "2026-12-01", user="officer")
    assert code == 0 and out == ""


def test_cli_invalid_case_changes_are_one_line_and_change_nothing(auditor, home):  # noqa: F811
    populate(home)
    auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv", user="officer")
    size = _log_size(home)
    for args, message in [
        (["close", "1", "--disposition", "false_positive", "--sanction", "none"], "review it first"),
        (["close", "1", "--disposition", "false_positive", "--sanction", "suspension"],
         "only for a confirmed_violation"),
        (["close", "1", "--disposition", "guilty", "--sanction", "none"], "--disposition"),
        (["review", "7"], "no case 7"),
        (["review", "1", "--by", "CPO"], "--by is gone: sign in with auditor login USER"),
        (["note", "1", "--text", " "], "--text is required"),
        (["show", "x"], "x"),
        (["list", "--from", "2026-12-01", "--to", "2026-11-01"], "--to is before --from"),
    ]:
        code, out, err = auditor("cases", *args, user="officer")
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, args
    assert _log_size(home) == size and [h.action for h in _history(home, 1)] == ["opened"]

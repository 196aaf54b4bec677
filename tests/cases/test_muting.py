"""A suppression that becomes active after `auditor findings` has filled the cases mutes its findings
in the cases not closed: `cases show` marks each with the suppression, `cases list` ranks and counts
without them, the history says which suppression muted how many and who; a closed case is never
changed; revoking un-mutes, unless another active suppression still matches."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from auditor.audit.events import AuditEvent
from auditor.audit.schema import AuditEventRow
from auditor.policy.frames import Period
from auditor.policy.rules import load_policy
from auditor.policy.suppressions import SuppressionRequest, add_suppression, revoke_suppression
from auditor.review.period import review_period
from auditor.vault.gateway.casework import Casework
from auditor.vault.integrity import verify_vault
from auditor.vault.records import MutedFinding
from tests.policy.test_cli import home  # noqa: F401  (a fixture)
from tests.policy.vault_data import populate

NOVEMBER = ("--from", "2026-11-01", "--to", "2026-11-30")
SUPPRESS = ("suppressions", "add", "--reason", "her guardian", "--expires", "2026-12-31")


def _access(vault, ids: dict[str, int], event_id: str, user: str, mrn: str, at: datetime) -> None:
    """An EHR view of `mrn`'s chart by `user`, in the log."""
    event = AuditEvent(at=at, action="view", user_id=user, role="nurse" if user == "n.muller" else "physician",
                       patient_id=ids[mrn], source="ehr", source_event_id=event_id)
    with vault.records.begin() as conn:
        appended = vault.audit_log.append(conn, [event])
    vault.audit_log.after_commit(appended, 1)


def _two_cases(auditor, vault) -> dict[str, int]:
    """n.muller's case 2 (family, neighbour and coworker access: high, risk 72 each) above dr.lee's
    case 1 (no treatment relationship: medium, risk 45); the patients' ids by MRN."""
    ids = populate(vault)
    _access(vault, ids, "ehr-9", "dr.lee", "P-NEI", datetime(2026, 11, 2, 16, tzinfo=timezone.utc))
    code, _, err = auditor("findings", *NOVEMBER, "--format", "csv", user="officer")
    assert code == 0 and "in 2 case(s) (2 opened" in err
    return ids


def _ranked(auditor) -> list[list[str]]:
    code, out, _ = auditor("cases", "list", user="investigator")
    assert code == 0
    return [line.split("\t")[1:] for line in out.splitlines()]


def _show(auditor, case_id: int) -> tuple[str, dict]:
    text = auditor("cases", "show", str(case_id), user="investigator")
    shown = auditor("cases", "show", str(case_id), "--format", "json", user="investigator")
    assert text.code == 0 and shown.code == 0
    return text.out, json.loads(shown.out)


def _verifies(auditor) -> bool:
    return auditor("audit", "verify").code == 0


def test_cli_a_suppression_added_after_the_findings_mutes_them_in_the_open_case(auditor, home):  # noqa: F811
    _two_cases(auditor, home)
    assert [row[:8] for row in _ranked(auditor)] == [
        ["case 2", "open", "n.muller", "2026-11-01 to 2026-11-30", "high", "risk 72",
         "coworker-access,family-access,neighbor-access", "3 finding(s)"],
        ["case 1", "open", "dr.lee", "2026-11-01 to 2026-11-30", "medium", "risk 45", "no-treatment-relationship",
         "1 finding(s)"]]
    code, out, err = auditor(*SUPPRESS, "--rule", "family-access", "--user", "n.muller", "--mrn", "P-FAM",
                             user="officer")
    assert code == 0, err
    assert out.strip() == "suppression 1 added: family-access, expires 2026-12-31; 1 finding(s) muted in case 2"
    text, shown = _show(auditor, 2)
    assert "\t2 finding(s), 1 muted, max risk 72\t" in text.splitlines()[0]
    assert "  family-access (high, risk 72) mrn P-FAM events ehr-1\tMUTED by suppression 1" in text
    assert "  neighbor-access (high, risk 72) mrn P-NEI events ehr-2\n" in text  # unmuted: no mark
    assert "findings_muted by officer -> open; 1 finding(s) muted by suppression 1" in text
    assert (shown["case"]["findings"], shown["case"]["muted"]) == (2, 1)
    assert [(f["rule"], f["muted"], f["muted_by"]) for f in shown["findings"]] == [
        ("neighbor-access", False, None), ("coworker-access", False, None), ("family-access", True, 1)]
    assert shown["history"][-1]["action"] == "findings_muted" and shown["history"][-1]["by"] == "officer"
    assert _ranked(auditor)[0][4:8] == ["high", "risk 72", "coworker-access,neighbor-access", "2 finding(s), 1 muted"]

    for rule in ("neighbor-access", "coworker-access"):  # every finding of the case muted: it says so, last
        code, out, _ = auditor(*SUPPRESS, "--rule", rule, "--user", "n.muller", user="officer")
        assert code == 0 and out.strip().endswith("; 1 finding(s) muted in case 2")
    assert [row[:8] for row in _ranked(auditor)] == [
        ["case 1", "open", "dr.lee", "2026-11-01 to 2026-11-30", "medium", "risk 45", "no-treatment-relationship",
         "1 finding(s)"],
        ["case 2", "open", "n.muller", "2026-11-01 to 2026-11-30", "-", "risk 0", "-", "all 3 finding(s) muted"]]
    listed = json.loads(auditor("cases", "list", "--format", "json", user="investigator").out)
    assert [(c["id"], c["findings"], c["muted"], c["max_risk"], c["severity"]) for c in listed] == [
        (1, 1, 0, 45, "medium"), (2, 0, 3, 0, "")]
    with home.records.connect() as conn:
        details = conn.scalars(select(AuditEventRow.detail).where(AuditEventRow.record_type == "case",
                                                                  AuditEventRow.record_id == "2")).all()
    assert "case 2: 1 finding(s) muted by suppression 1, by officer" in details
    assert _verifies(auditor)


def test_cli_a_closed_case_is_never_changed(auditor, home):  # noqa: F811
    """n.muller's November case is closed; her December access to the same patient opens case 3. The
    suppression mutes the finding of the open case, never the closed one's, and revoking it likewise."""
    ids = _two_cases(auditor, home)
    assert auditor("cases", "review", "2", user="officer").code == 0
    assert auditor("cases", "close", "2", "--disposition", "not_a_violation", "--sanction", "none",
                   user="officer").code == 0
    _access(home, ids, "ehr-10", "n.muller", "P-FAM", datetime(2026, 12, 3, 15, tzinfo=timezone.utc))
    code, _, err = auditor("findings", "--from", "2026-12-01", "--to", "2026-12-31", "--format", "csv", user="officer")
    assert code == 0 and "(1 opened, 1 finding(s) newly attached)" in err
    closed = _show(auditor, 2)
    code, out, _ = auditor(*SUPPRESS, "--rule", "family-access", "--user", "n.muller", user="officer")
    assert code == 0 and out.strip() == "suppression 1 added: family-access, expires 2026-12-31; 1 finding(s) muted in case 3"
    assert _show(auditor, 2) == closed and "MUTED" not in closed[0]
    assert "family-access (high, risk 70) mrn P-FAM events ehr-10\tMUTED by suppression 1" in _show(auditor, 3)[0]
    code, out, _ = auditor("suppressions", "revoke", "1", "--reason", "added in error", user="officer")
    assert code == 0 and out.strip() == "suppression 1 revoked; 1 finding(s) un-muted in case 3"
    assert _show(auditor, 2) == closed
    assert _verifies(auditor)


def test_cli_revoking_un_mutes_unless_another_active_suppression_matches(auditor, home):  # noqa: F811
    _two_cases(auditor, home)
    assert auditor(*SUPPRESS, "--rule", "family-access", "--user", "n.muller", user="officer").code == 0
    code, out, _ = auditor(*SUPPRESS, "--rule", "family-access", "--mrn", "P-FAM", user="officer")
    assert code == 0 and out.strip() == "suppression 2 added: family-access, expires 2026-12-31"  # muted already
    code, out, _ = auditor("suppressions", "revoke", "1", "--reason", "she was never his guardian", user="officer")
    assert code == 0 and out.strip() == "suppression 1 revoked"
    text, shown = _show(auditor, 2)
    assert "family-access (high, risk 72) mrn P-FAM events ehr-1\tMUTED by suppression 2" in text
    assert "findings_muted by officer -> open; suppression 1 revoked: 1 finding(s) still muted by suppression 2" in text
    code, out, _ = auditor("suppressions", "revoke", "2", "--reason", "ended", user="officer")
    assert code == 0 and out.strip() == "suppression 2 revoked; 1 finding(s) un-muted in case 2"
    text, shown = _show(auditor, 2)
    assert "MUTED" not in text and (shown["case"]["findings"], shown["case"]["muted"]) == (3, 0)
    assert "findings_unmuted by officer -> open; suppression 2 revoked: 1 finding(s) un-muted" in text
    assert _ranked(auditor)[0][:8] == ["case 2", "open", "n.muller", "2026-11-01 to 2026-11-30", "high", "risk 72",
                                       "coworker-access,family-access,neighbor-access", "3 finding(s)"]
    assert _verifies(auditor)


def test_a_suppression_mutes_in_a_case_only_through_its_last_local_day(vault):
    """The findings' last access is 10:00 on 2026-11-02 in New York: a suppression whose last day is
    11-01 mutes nothing in the case, one whose last day is 11-02 mutes it (as `auditor findings` judges);
    revoking it un-mutes it; the log and the marks verify (SQLite and PostgreSQL)."""
    populate(vault)
    review_period(vault, Period(date(2026, 11, 1), date(2026, 11, 30), ZoneInfo("America/New_York")), load_policy())
    casework = Casework(vault.gateway)
    marked = {}
    for last_day in (date(2026, 11, 1), date(2026, 11, 2)):
        request = SuppressionRequest("family-access", "her guardian", last_day, "officer", "n.muller")
        sid = add_suppression(casework, request, {"family-access"}, date(2026, 10, 1))
        marked[last_day] = _marks(vault, sid)
    assert (len(marked[date(2026, 11, 1)]), len(marked[date(2026, 11, 2)])) == (0, 1)
    (case_id,) = set(marked[date(2026, 11, 2)].values())
    assert revoke_suppression(casework, sid, "ended", "officer") == {case_id: 1} and _marks(vault, sid) == {}
    assert verify_vault(vault.records, vault.keyring, [vault.checkpoints.path]).ok


def _marks(vault, suppression_id: int) -> dict[int, int]:
    with vault.records.connect() as conn:
        return dict(conn.execute(select(MutedFinding.case_finding_id, MutedFinding.case_id)
                                 .where(MutedFinding.suppression_id == suppression_id)).all())


def test_the_report_s_trend_leaves_out_what_a_suppression_muted(auditor, home):  # noqa: F811
    """The six-month trend counts the findings recorded in cases; a muted one is an approved exception."""
    from auditor.cases.statistics import findings_recorded_by_month

    _two_cases(auditor, home)
    november = Period(date(2026, 11, 1), date(2026, 11, 30), ZoneInfo("America/New_York"))
    before = findings_recorded_by_month(home.records, [november])["2026-11"]
    assert sum(before.values()) == 4
    assert auditor(*SUPPRESS, "--rule", "family-access", "--user", "n.muller", "--mrn", "P-FAM",
                   user="officer").code == 0
    after = findings_recorded_by_month(home.records, [november])["2026-11"]
    assert sum(after.values()) == 3 and after["high"] == before["high"] - 1

"""Suppressions: exact matches on rule and user and/or patient, expiry by the finding's time, revocation;
muted findings stay in the output and go into no case; every change audited, reasons sealed."""

from __future__ import annotations

import ast
import json
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import func, select

from auditor.audit.schema import AuditEventRow
from auditor.review.period import review_period
from auditor.clock import FixedClock
from auditor.errors import NotFound
from auditor.policy.findings import Finding
from auditor.policy.frames import Period
from auditor.policy.suppressions import (ActiveSuppression, SuppressionEntry, SuppressionRefused, SuppressionRequest,
                                         add_suppression, list_suppressions, matches, revoke_suppression,
                                         suppression_reasons)
from auditor.vault.gateway.casework import Casework
from auditor.vault.records import CASEWORK_SEALED, Suppression
from tests.policy.test_cli import home  # noqa: F401  (a fixture)
from tests.policy.vault_data import populate

NEW_YORK = ZoneInfo("America/New_York")
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30), NEW_YORK)
TODAY = date(2026, 11, 2)
REASON = "Zoë Müller is her mother; guardian on file"


def _suppress(vault, rules, rule="family-access", user="n.muller", mrn="P-FAM", expires=date(2026, 12, 31),
              reason=REASON, today=TODAY) -> int:
    request = SuppressionRequest(rule, reason, expires, "Chief Privacy Officer", user, mrn)
    return add_suppression(Casework(vault.gateway), request, set(rules), today)


def _log_size(vault) -> int:
    with vault.records.connect() as conn:
        return conn.scalar(select(func.count()).select_from(AuditEventRow))


def _case_events(vault, record_type: str) -> list:
    with vault.records.connect() as conn:
        return conn.execute(select(AuditEventRow.user_id, AuditEventRow.action, AuditEventRow.record_id,
                                   AuditEventRow.patient_id, AuditEventRow.detail)
                            .where(AuditEventRow.record_type == record_type).order_by(AuditEventRow.seq)).all()


def test_a_matched_finding_is_muted_kept_and_in_no_case(vault, policy):
    ids = populate(vault)
    sid = _suppress(vault, policy.rules)
    result = review_period(vault, NOVEMBER, policy)
    by_rule = {f.rule: f for f in result.findings}
    assert set(by_rule) == {"family-access", "neighbor-access", "coworker-access"}  # nothing dropped
    assert by_rule["family-access"].muted and by_rule["family-access"].case is None and result.muted == 1
    assert not by_rule["neighbor-access"].muted and by_rule["neighbor-access"].case is not None
    assert result.attachment.added == 2
    (event,) = _case_events(vault, "suppression")
    assert event.user_id == "svc:cases" and event.action == "create" and event.record_id == str(sid)
    assert event.patient_id == ids["P-FAM"] and "Chief Privacy Officer" in event.detail


def test_the_reason_is_sealed_and_read_back_audited(vault, policy):
    ids = populate(vault)
    sid = _suppress(vault, policy.rules)
    with vault.records.connect() as conn:
        row = conn.execute(select(Suppression.reason, Suppression.patient_id)).one()
    assert "Müller".encode() not in bytes(row.reason) and row.patient_id == ids["P-FAM"]
    before = _log_size(vault)
    assert suppression_reasons(Casework(vault.gateway), list_suppressions(vault.records)) == {sid: REASON}
    reads = [e for e in _case_events(vault, "suppression") if e.action == "view"]
    assert _log_size(vault) == before + 2 and {e.patient_id for e in reads} == {None, ids["P-FAM"]}


@pytest.mark.parametrize("user, mrn, muted", [
    ("n.muller", None, {"family-access"}),  # the user alone: every patient, this rule only
    (None, "P-FAM", {"family-access"}),  # the patient alone: every user
    ("dr.lee", "P-FAM", set()),  # another user
    ("n.muller", "P-NEI", set()),  # another patient (neighbor, not family)
])
def test_matching_is_exact(vault, policy, user, mrn, muted):
    populate(vault)
    _suppress(vault, policy.rules, user=user, mrn=mrn)
    result = review_period(vault, NOVEMBER, policy)
    assert {f.rule for f in result.findings if f.muted} == muted


def test_an_expired_suppression_mutes_nothing(vault, policy):
    populate(vault)  # the accesses are on 2026-11-02
    _suppress(vault, policy.rules, expires=date(2026, 11, 1), today=date(2026, 10, 1))
    assert not any(f.muted for f in review_period(vault, NOVEMBER, policy).findings)


def test_a_revoked_suppression_mutes_nothing_and_revoking_is_final(vault, policy):
    populate(vault)
    sid = _suppress(vault, policy.rules)
    casework = Casework(vault.gateway)
    revoke_suppression(casework, sid, "guardianship ended", by="Chief Privacy Officer")
    (entry,) = list_suppressions(vault.records)
    assert entry.status(TODAY) == "revoked" and entry.revoked_by == "Chief Privacy Officer"
    assert not any(f.muted for f in review_period(vault, NOVEMBER, policy).findings)
    size = _log_size(vault)
    with pytest.raises(SuppressionRefused, match="already revoked"):
        revoke_suppression(casework, sid, "again")
    with pytest.raises(NotFound, match="no suppression 99"):
        revoke_suppression(casework, 99, "no such")
    assert _log_size(vault) == size
    assert [e.action for e in _case_events(vault, "suppression")] == ["create", "update"]


@pytest.mark.parametrize("kwargs, message", [
    ({"rule": "no-such-rule"}, "unknown rule"),
    ({"user": None, "mrn": None}, "names a user"),
    ({"reason": "  "}, "needs a reason"),
    ({"expires": date(2026, 11, 1)}, "already past"),
    ({"mrn": "P-NOBODY"}, "no patient with that MRN"),
])
def test_refused_suppressions_change_nothing(vault, policy, kwargs, message):
    populate(vault)
    size = _log_size(vault)
    with pytest.raises((SuppressionRefused, NotFound), match=message):
        _suppress(vault, policy.rules, **kwargs)
    assert list_suppressions(vault.records) == [] and _log_size(vault) == size


def _finding(last_at: datetime, rule="family-access", user="n.muller", patient=7) -> Finding:
    return Finding(rule=rule, severity="high", user_id=user, patient_id=patient, mrn=None, event_ids=["e"], risk=70,
                   explanation="", first_at=last_at.isoformat(), last_at=last_at.isoformat())


# the boundaries: the local midnights that begin and end the last day, and a microsecond, a minute or a
# day either side of them (2026 and 2027 hold both of New York's daylight-saving changes)
_NEAR = [timedelta(0), *(sign * timedelta(**unit) for sign in (1, -1)
                         for unit in ({"microseconds": 1}, {"minutes": 1}, {"days": 1}))]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=NEW_YORK)


@given(expires=st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)), data=st.data())
def test_expiry_is_judged_by_the_findings_local_day(expires, data):
    """A suppression mutes through the end of its last day in the organisation's time zone: a finding
    whose last event is before the local midnight that ends that day, and none from that midnight on."""
    ends = _midnight(expires + timedelta(days=1))
    at = data.draw(st.one_of(
        st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(timezone.utc)),
        st.builds(lambda edge, near: (edge + near).astimezone(timezone.utc),
                  st.sampled_from([_midnight(expires), ends]), st.sampled_from(_NEAR))))
    s = ActiveSuppression(1, "family-access", "n.muller", 7, expires)
    assert matches(s, _finding(at), NEW_YORK) == (at < ends)
    today = expires + timedelta(days=data.draw(st.sampled_from([-1, 0, 1])))
    entry = SuppressionEntry(1, "family-access", "n.muller", 7, expires, "CPO", at, None, None)
    assert entry.status(today) == ("active" if today <= expires else "expired")  # `suppressions list`


def test_the_local_day_boundary():
    s = ActiveSuppression(1, "family-access", None, 7, date(2026, 11, 2))
    late_evening = datetime(2026, 11, 3, 4, 59, tzinfo=timezone.utc)  # 23:59 on 11-02 in New York
    assert matches(s, _finding(late_evening), NEW_YORK)
    assert not matches(s, _finding(late_evening + timedelta(minutes=1)), NEW_YORK)
    assert not matches(s, _finding(late_evening, patient=8), NEW_YORK)
    assert not matches(s, _finding(late_evening, rule="vip-access"), NEW_YORK)


def test_no_module_outside_the_gateway_names_a_sealed_casework_column():
    package = Path(__file__).resolve().parents[2] / "auditor"
    models = {"suppressions": "Suppression", "case_findings": "CaseFinding", "case_history": "CaseHistoryEntry"}
    sealed = {(models[t], c) for t, columns in CASEWORK_SEALED.items() for c in columns}
    offenders = []
    for path in package.rglob("*.py"):
        if "gateway" in path.parts or path.name == "records.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    (node.value.id, node.attr) in sealed:
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


# -- the CLI ------------------------------------------------------------------------------------------
def test_cli_add_list_findings_revoke(auditor, home, tmp_path, clock):  # noqa: F811
    populate(home)
    code, out, err = auditor("suppressions", "add", "--rule", "family-access", "--user", "n.muller", "--mrn", "P-FAM",
                             "--reason", REASON, "--expires", "2026-11-30", clock=clock, user="officer")
    assert code == 0, err
    assert out.strip() == "suppression 1 added: family-access, expires 2026-11-30"
    code, out, err = auditor("suppressions", "list", clock=clock, user="investigator")
    assert code == 0 and out.split("\t")[:3] == ["1", "active", "family-access"]
    assert "mrn P-FAM" in out and REASON in out and "approved by officer" in out
    code, out, err = auditor("suppressions", "list", "--format", "json", clock=clock, user="officer")
    assert json.loads(out)[0]["reason"] == REASON and json.loads(out)[0]["approver"] == "officer"
    code, out, err = auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--out", str(tmp_path / "f.json"),
                             clock=clock, user="officer")
    assert code == 0 and "1 muted" in out
    found = {f["rule"]: f for f in json.loads((tmp_path / "f.json").read_text())}
    assert found["family-access"]["muted"] is True and found["family-access"]["case"] is None
    assert found["coworker-access"]["muted"] is False and found["coworker-access"]["case"] == 1
    on_its_last_day = FixedClock(datetime(2026, 12, 1, 4, 59, tzinfo=timezone.utc))  # 23:59 on 11-30 in New York
    assert auditor("suppressions", "list", clock=on_its_last_day, user="officer").out.split("\t")[1] == "active"
    day_after = FixedClock(datetime(2026, 12, 1, 15, tzinfo=timezone.utc))
    assert auditor("suppressions", "list", clock=day_after, user="officer").out.split("\t")[1] == "expired"
    code, out, err = auditor("suppressions", "revoke", "1", "--reason", "ended", clock=clock, user="officer")
    assert code == 0 and out.strip() == "suppression 1 revoked"
    code, out, _ = auditor("suppressions", "list", "--format", "json", clock=clock, user="officer")
    assert (json.loads(out)[0]["status"], json.loads(out)[0]["revoked_by"]) == ("revoked", "officer")


@pytest.mark.parametrize("args, message", [
    (["--rule", "family-access", "--reason", "r", "--expires", "2026-12-31"], "names a user"),
    (["--rule", "nope", "--user", "u", "--reason", "r", "--expires", "2026-12-31"], "unknown rule"),
    (["--rule", "family-access", "--user", "u", "--reason", "r", "--expires", "soon"], "is not a YYYY-MM-DD date"),
    (["--rule", "family-access", "--mrn", "P-NONE", "--reason", "r", "--expires", "2026-12-31"],
     "no patient with that MRN"),
    (["--rule", "family-access", "--user", "u", "--reason", "r", "--expires", "2026-12-31", "--approver", "A"],
     "--approver is gone: the signed-in privacy officer approves it"),
    (["--rule", "family-access", "--user", "u", "--reason", "r", "--expires", "2026-11-01"],
     "--expires 2026-11-01 is already past"),
])
def test_cli_bad_suppressions_are_one_line_and_change_nothing(auditor, home, clock, args, message):  # noqa: F811
    populate(home)
    code, out, err = auditor("suppressions", "add", *args, clock=clock, user="officer")
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err
    assert list_suppressions(home.records) == []
    code, _, err = auditor("suppressions", "revoke", "5", "--reason", "x", clock=clock)
    assert code == 2 and err.strip() == "auditor: no suppression 5"

"""An attacker with write access to records.db against the casework the office decides on (r0020): the
triage order, the review budget, the report and `auditor evaluate` believe a finding's severity and
risk and a case's status, so demoting the critical findings buries the terminated account's case
below the budget, and closing a case takes it out of the queue. Cases, their findings and their
history are in the ledger of trusted rows: `auditor audit verify` names each row inserted, edited or
deleted behind the gateway, and the monthly report's cover says the vault does not verify."""

from __future__ import annotations

import json

import pytest

from tests.adversarial.conftest import records_db


def _listed(auditor) -> list[dict]:
    result = auditor("cases", "list", "--format", "json", user="investigator")
    assert result.code == 0, result.err
    return json.loads(result.out)


def _verify(auditor):
    checked = auditor("audit", "verify")
    assert "TAMPERED" not in checked.out  # the log itself is intact: the rows are what changed
    return checked


def test_critical_findings_demoted_behind_the_gateway_leave_the_top_and_are_named(attacked_home, auditor):
    before = _listed(auditor)
    assert before[0]["critical"] and _verify(auditor).code == 0
    with records_db(attacked_home) as conn:
        demoted = [key for (key,) in conn.execute("SELECT id FROM case_findings WHERE severity = 'critical'")]
        conn.execute("UPDATE case_findings SET severity = 'low', risk = 1 WHERE severity = 'critical'")
    after = _listed(auditor)
    assert demoted and not any(c["critical"] for c in after)  # the ranking believed the rows
    checked = _verify(auditor)
    assert checked.code == 1
    assert sorted(int(line.split("case_findings row ")[1].split()[0]) for line in checked.out.splitlines()
                  if "row-edited: case_findings row" in line) == sorted(demoted)


@pytest.mark.parametrize("change, table, kind", [
    ("UPDATE cases SET status = 'closed', disposition = 'false_positive', sanction = 'none' WHERE id = {case}",
     "cases", "row-edited"),  # out of the queue, decided by no one
    ("UPDATE cases SET user_id = 'someone.else' WHERE id = {case}", "cases", "row-edited"),  # blamed on another
    ("DELETE FROM case_findings WHERE id = (SELECT min(id) FROM case_findings WHERE case_id = {case})",
     "case_findings", "row-deleted"),
    ("UPDATE case_findings SET event_ids = '[]' WHERE case_id = {case}", "case_findings", "row-edited"),
    # a decoy: a newer open case of the same member, which the next review's findings would go into
    ("INSERT INTO cases (user_id, status, first_day, last_day, opened_at, data_key_id) SELECT user_id, 'open', "
     "first_day, last_day, opened_at, data_key_id FROM cases WHERE id = {case}", "cases", "row-inserted"),
    ("INSERT INTO case_history (id, case_id, position, at, action, by, status) "
     "VALUES (424242, {case}, 99, 0, 'closed', 'olivia', 'closed')", "case_history", "row-inserted"),
])
def test_a_case_row_changed_behind_the_gateway_is_named(attacked_home, auditor, change, table, kind):
    case = _listed(auditor)[0]["id"]
    with records_db(attacked_home) as conn:
        assert conn.execute(change.format(case=case)).rowcount >= 1
    checked = _verify(auditor)
    assert checked.code == 1 and f"{kind}: {table} row" in checked.out, checked.out


def test_the_gateway_s_own_casework_verifies(attacked_home, auditor):
    case = _listed(auditor)[0]["id"]
    assert auditor("cases", "review", str(case), user="officer").code == 0
    assert auditor("cases", "note", str(case), "--text", "spoke with the manager", user="officer").code == 0
    closed = auditor("cases", "close", str(case), "--disposition", "confirmed_violation", "--sanction", "education",
                     user="officer")
    assert closed.code == 0, closed.err
    assert _verify(auditor).code == 0

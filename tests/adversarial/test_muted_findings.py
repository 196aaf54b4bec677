"""An attacker with write access to records.db against the marks of muted findings (r0019): a finding a
suppression muted in its case counts for nothing in the ranking, so marking the findings of the top
case muted would bury it, and taking a mark off would raise what the office had set aside. Each mark
is in the ledger of trusted rows: `auditor audit verify` names every mark added, removed or edited
behind the gateway."""

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
    assert "TAMPERED" not in checked.out  # the log itself is intact: the marks are what changed
    return checked


def test_the_top_case_muted_behind_the_gateway_is_buried_and_named(attacked_home, auditor):
    before = _listed(auditor)
    top = before[0]
    assert top["critical"] and top["findings"] >= 1 and _verify(auditor).code == 0
    with records_db(attacked_home) as conn:  # every finding of the case marked muted by suppression 1
        marked = conn.execute("INSERT INTO muted_findings (case_finding_id, case_id, suppression_id, muted_at) "
                              "SELECT id, case_id, 1, added_at FROM case_findings WHERE case_id = ?",
                              (top["id"],)).rowcount
    after = _listed(auditor)
    assert marked == top["findings"] and after[0]["id"] != top["id"]  # the ranking believed the marks
    (buried,) = [c for c in after if c["id"] == top["id"]]
    assert (buried["findings"], buried["muted"], buried["critical"]) == (0, marked, False)
    checked = _verify(auditor)
    assert checked.code == 1
    assert checked.out.count("row-inserted: muted_findings row") == marked


@pytest.mark.parametrize("change, kind", [
    ("DELETE FROM muted_findings", "row-deleted"),  # the finding back in the ranking
    ("UPDATE muted_findings SET suppression_id = suppression_id + 1", "row-edited"),  # blamed on another
    ("UPDATE muted_findings SET case_id = case_id + 1", "row-edited"),  # counted off another case
])
def test_a_mark_taken_off_or_edited_behind_the_gateway_is_named(attacked_home, auditor, change, kind):
    top = _listed(auditor)[0]
    with records_db(attacked_home) as conn:
        (rule,) = conn.execute("SELECT rule FROM case_findings WHERE case_id = ? ORDER BY risk DESC LIMIT 1",
                               (top["id"],)).fetchone()
    added = auditor("suppressions", "add", "--rule", rule, "--user", top["user_id"], "--reason", "on the rota",
                    "--expires", "2099-12-31", user="officer")
    assert added.code == 0 and f"muted in case {top['id']}" in added.out, added.err
    assert _verify(auditor).code == 0  # the gateway's marks verify
    with records_db(attacked_home) as conn:
        (key,) = conn.execute("SELECT min(case_finding_id) FROM muted_findings").fetchone()
        assert conn.execute(f"{change} WHERE case_finding_id = ?", (key,)).rowcount == 1
    checked = _verify(auditor)
    assert checked.code == 1 and f"{kind}: muted_findings row {key}" in checked.out

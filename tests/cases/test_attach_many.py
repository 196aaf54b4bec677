"""More findings than attach_findings makes rows of at once (_INSERT_ROWS): every one goes into its
member's case once, every row is vouched for by the log's ledger, and attaching again adds nothing."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from auditor.cases.attach import _INSERT_ROWS, attach_findings
from auditor.policy.findings import Finding
from auditor.review.audit_log import verify_audit_log
from auditor.vault.gateway.casework import Casework
from auditor.vault.records import Case, CaseFinding


def _findings(users: int, each: int) -> list[Finding]:
    return [Finding(rule="after-hours", severity="medium", user_id=f"u{u:02d}", patient_id=None, mrn=None,
                    event_ids=[f"ehr-{u}-{e}"], risk=45, explanation="worked outside their shift.",
                    first_at="2026-11-02T15:00:00+00:00", last_at="2026-11-02T15:00:00+00:00")
            for u in range(users) for e in range(each)]


def test_more_findings_than_are_made_into_rows_at_once(sqlite_vault):
    found = _findings(7, _INSERT_ROWS // 4 + 1)  # the rows go in after the 4th member, again after the 8th...
    assert len(found) > _INSERT_ROWS
    casework = Casework(sqlite_vault.gateway)
    done = attach_findings(casework, found, date(2026, 11, 1), date(2026, 11, 30))
    assert done.added == len(found) and len(done.opened) == 7
    with sqlite_vault.records.connect() as conn:
        owner = dict(conn.execute(select(Case.id, Case.user_id)).all())
        rows = conn.scalar(select(func.count()).select_from(CaseFinding))
        per_case = dict(conn.execute(select(CaseFinding.case_id, func.count()).group_by(CaseFinding.case_id)).all())
    assert rows == len(found) and set(per_case.values()) == {_INSERT_ROWS // 4 + 1}
    assert all(owner[f.case] == f.user_id for f in found)
    checked = verify_audit_log(sqlite_vault).result
    assert checked.ok, checked.problems[:3]  # the ledger vouches for every row inserted
    again = attach_findings(casework, [Finding(**{**f.__dict__, "case": None}) for f in found],
                            date(2026, 11, 1), date(2026, 11, 30))
    assert again.added == 0 and again.opened == []

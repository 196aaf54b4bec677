"""A case's life: open -> under review -> closed, with a disposition, a sanction and notes.

Closing needs a review first: a privacy officer documents that a case was looked at before it was
decided (45 CFR 164.530(j) documentation), so an open case is refused with the command that starts
its review. A closed case is final: it never reopens, and new findings of the same member open a new
case (which makes them a repeat offender). A sanction other than none is only for a confirmed
violation (45 CFR 164.530(e)(1): sanctions against members who fail to comply). Notes may be added
at any status, a closed case included. Every change appends one history row and one audit event in
the same transaction; an invalid change raises and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from auditor.crypto.envelope import new_key_ids
from auditor.errors import InputError, NotFound
from auditor.vault.gateway.bulk import insert_rows
from auditor.vault.gateway.casework import Casework, CaseworkChange
from auditor.vault.records import Case, CaseHistoryEntry

OPEN, UNDER_REVIEW, CLOSED = "open", "under_review", "closed"
STATUSES = (OPEN, UNDER_REVIEW, CLOSED)
DISPOSITIONS = ("false_positive", "not_a_violation", "confirmed_violation")
SANCTIONS = ("none", "education", "written_warning", "suspension", "termination")


class InvalidTransition(InputError):
    """A change a case cannot take in its status, or with these values; nothing was changed."""


def _required(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise InvalidTransition(f"{what} is required")
    return value.strip()


def record_history(change: CaseworkChange, case: Case, action: str, by: str, *, note: str | None = None,
                   detail: str | None = None, at: datetime | None = None) -> None:
    """Append one history row (the note sealed under the case's key). Never updated, never deleted.
    The caller holds the case row's lock, so positions are consecutive. The row, and the case as it
    stands when the work returns, are recorded in the ledger of trusted rows."""
    record_histories(change, [(case, action, detail, note)], by, at=at)


def record_histories(change: CaseworkChange, entries: list[tuple[Case, str, str | None, str | None]], by: str,
                     at: datetime | None = None) -> None:
    """record_history for many changes at once, each (case, action, detail, note): one query for the
    cases' last positions and one batch of rows. The caller holds the cases' locks."""
    if not entries:
        return
    ids = sorted({case.id for case, _, _, _ in entries})
    last: dict[int, int] = {}
    for i in range(0, len(ids), 900):
        last.update(change.session.execute(select(CaseHistoryEntry.case_id, func.max(CaseHistoryEntry.position))
                                           .where(CaseHistoryEntry.case_id.in_(ids[i : i + 900]))
                                           .group_by(CaseHistoryEntry.case_id)).all())
    rows = []
    for (case, action, detail, note), row_id in zip(entries, new_key_ids(len(entries))):
        last[case.id] = last.get(case.id, 0) + 1
        rows.append(dict(id=row_id, case_id=case.id, position=last[case.id], at=at or change.at, action=action,
                         by=by[:128], status=case.status, disposition=case.disposition, sanction=case.sanction,
                         detail=detail,
                         note=change.seal(case.data_key_id, "case_history", "note", row_id, note) if note else None))
    change.session.flush()  # the cases' rows first (a history row names its case)
    insert_rows(change.session, CaseHistoryEntry, rows)
    change.wrote("case_history", "create", [row["id"] for row in rows])
    change.wrote("cases", "update", ids)


def _case(change: CaseworkChange, case_id: int) -> Case:
    case = change.session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def start_review(casework: Casework, case_id: int, by: str, note: str | None = None) -> None:
    """open -> under_review."""
    by = _required(by, "who reviews")

    def work(change: CaseworkChange) -> None:
        case = _case(change, case_id)
        if case.status != OPEN:
            raise InvalidTransition(f"case {case_id} is {case.status}: only an open case can be put under review")
        case.status = UNDER_REVIEW
        record_history(change, case, "review_started", by, note=note)
        change.record("case", case.id, f"case {case.id} put under review by {by}", action="review")

    casework.change("review", work)


def check_decision(disposition: str, sanction: str) -> None:
    if disposition not in DISPOSITIONS:
        raise InvalidTransition(f"unknown disposition {disposition!r}: one of {', '.join(DISPOSITIONS)}")
    if sanction not in SANCTIONS:
        raise InvalidTransition(f"unknown sanction {sanction!r}: one of {', '.join(SANCTIONS)}")
    if sanction != "none" and disposition != "confirmed_violation":
        raise InvalidTransition(f"a sanction ({sanction}) is only for a confirmed_violation, not {disposition}")


def close_case(casework: Casework, case_id: int, disposition: str, sanction: str, by: str,
               note: str | None = None) -> None:
    """under_review -> closed, with the disposition and the sanction decided."""
    by = _required(by, "who decides")
    check_decision(disposition, sanction)

    def work(change: CaseworkChange) -> None:
        case = _case(change, case_id)
        if case.status == OPEN:
            raise InvalidTransition(f"case {case_id} is open: review it first "
                                    f"(auditor cases review {case_id})")
        if case.status != UNDER_REVIEW:
            raise InvalidTransition(f"case {case_id} is already closed; a closed case is final")
        case.status, case.disposition, case.sanction, case.closed_at = CLOSED, disposition, sanction, change.at
        record_history(change, case, "closed", by, note=note, detail=f"{disposition}; sanction {sanction}")
        change.record("case", case.id, f"case {case.id} closed by {by}: {disposition}, sanction {sanction}")

    casework.change("update", work)


def add_note(casework: Casework, case_id: int, by: str, text: str) -> None:
    """A note on the case's file, at any status (sealed: it may name a patient)."""
    by, text = _required(by, "who writes"), _required(text, "--text")

    def work(change: CaseworkChange) -> None:
        case = _case(change, case_id)
        record_history(change, case, "note", by, note=text)
        change.record("case", case.id, f"note added to case {case.id} by {by}", action="create")

    casework.change("create", work)

"""Findings into cases: each workforce member's unmuted findings of a period go into one case.

A member's case that is not closed (open or under review) is reused and its span of days extended;
otherwise a new case is opened. A finding is identified by its rule, user, patient and event ids
(`finding_key`): one already in a case, or whose events are all already in the member's cases under
the same rule (a rerun over a narrower period), is not added again, so running `auditor findings`
twice creates nothing new. Findings already in a case get that case's id even when muted since.

Two runs at once (two `auditor findings` on one PostgreSQL vault) take turns: the second waits for
the first's commit, then finds its cases and findings. A transaction-level advisory lock rather than
a unique index on the open case per member: nothing to retry, no migration that existing duplicates
could fail, and the lock is released by the commit or rollback however the run ends. On SQLite every
writer already takes the database's write lock first (BEGIN IMMEDIATE).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable

from sqlalchemy import BigInteger, func, select, type_coerce
from sqlalchemy.orm import Session

from auditor.audit.events import from_microseconds, to_microseconds
from auditor.cases.timelines import Cut, add_parts, cases_with_parts
from auditor.cases.workflow import CLOSED, OPEN, record_histories
from auditor.crypto.envelope import new_key_ids
from auditor.policy.findings import Finding
from auditor.vault.gateway.casework import Casework, CaseworkChange
from auditor.vault.ledger import compact_json
from auditor.vault.records import Case, CaseFinding

_CHUNK = 900
_HELD = 20_000  # case_findings rows fetched at a time by _covered
_INSERT_ROWS = 50_000  # case_findings rows made before they are inserted (at 60M events: 2.25 million in all)
_ONE_RUN_AT_A_TIME = int.from_bytes(b"auditcas", "big")  # the advisory lock's key, ours alone


@dataclass
class Attachment:
    opened: list[int] = field(default_factory=list)  # new cases
    extended: list[int] = field(default_factory=list)  # cases that took new findings
    added: int = 0  # findings attached now
    already: int = 0  # findings found in a case already


def finding_key(f: Finding) -> str:
    """A stable identity of a finding across runs: rule, user, patient and its sorted event ids, as
    json.dumps(..., separators=(",", ":")) writes them (printable ASCII, escaping the rest): orjson's
    bytes are those whenever they are printable ASCII and no DEL (ledger.compact_json), which event ids
    almost always are."""
    identity = [f.rule, f.user_id, f.patient_id, sorted(f.event_ids)]
    doc = compact_json(identity)
    if not doc.isascii() or b"\x7f" in doc:
        doc = json.dumps(identity, separators=(",", ":")).encode("ascii")
    return hashlib.sha256(doc).hexdigest()


def take_turns(session: Session) -> None:
    """Wait for any other run attaching findings, or muting them (auditor.cases.muting), to commit
    (PostgreSQL; READ COMMITTED, so every query after this sees what it committed)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_ONE_RUN_AT_A_TIME)))


def _known(session: Session, keys: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i in range(0, len(keys), _CHUNK):
        found.update(session.execute(select(CaseFinding.finding_key, CaseFinding.case_id)
                                     .where(CaseFinding.finding_key.in_(keys[i : i + _CHUNK]))).all())
    return found


def _covered(session: Session, findings: list[Finding]) -> dict[int, int]:
    """Position in `findings` -> case id, for findings whose events the member's cases already hold
    under the same rule, each in a finding held whose span of event times meets this finding's own (an
    event id seen again at other times is another event: a source may reuse its ids)."""
    if not findings:
        return {}
    users = sorted({f.user_id for f in findings})
    spans = [(to_microseconds(datetime.fromisoformat(f.first_at)), to_microseconds(datetime.fromisoformat(f.last_at)))
             for f in findings]
    # a finding's first_at and last_at are its events' earliest and latest times, so only the findings held
    # whose span meets these findings' are read, not every month's so far (at 60 million events a month,
    # 2.25 million findings more with each month reviewed)
    first, last = min(lo for lo, _ in spans), max(hi for _, hi in spans)
    held: dict[tuple[str, str], dict[str, list[tuple[int, int, int]]]] = {}
    for i in range(0, len(users), _CHUNK):
        # read _HELD at a time (a server-side cursor on PostgreSQL, for this statement only), not held whole
        # beside what is made of it
        rows = session.execute(select(Case.user_id, CaseFinding.rule, CaseFinding.event_ids, CaseFinding.case_id,
                                      type_coerce(CaseFinding.first_at, BigInteger),  # as stored: microseconds
                                      type_coerce(CaseFinding.last_at, BigInteger))
                               .join(Case, Case.id == CaseFinding.case_id)
                               .where(Case.user_id.in_(users[i : i + _CHUNK]),
                                      CaseFinding.last_at >= from_microseconds(first), CaseFinding.first_at <= from_microseconds(last))
                               .execution_options(yield_per=_HELD))
        for user, rule, event_ids, case_id, first_at, last_at in rows:
            events, span = held.setdefault((user, rule), {}), (case_id, first_at, last_at)
            for e in json.loads(event_ids):
                events.setdefault(e, []).append(span)
    covered = {}
    for n, (f, (lo, hi)) in enumerate(zip(findings, spans)):
        events = held.get((f.user_id, f.rule), {})
        cases = [max((case for case, a, b in events.get(e, ()) if b >= lo and a <= hi), default=None)
                 for e in f.event_ids]
        if cases and None not in cases:
            covered[n] = max(cases)
    return covered


def _cases_for(change: CaseworkChange, users: list[str], first_day: date, last_day: date,
               result: Attachment) -> dict[str, Case]:
    """Each member's case that is not closed (the newest), its span extended, or a new open case
    (their data keys made in one batch); in the members' order in `result`."""
    found: dict[str, Case] = {}
    for i in range(0, len(users), _CHUNK):
        for case in change.session.scalars(select(Case).where(Case.user_id.in_(users[i : i + _CHUNK]),
                                                              Case.status != CLOSED)
                                           .order_by(Case.id.desc()).with_for_update()):
            found.setdefault(case.user_id, case)  # the newest
    missing = [user_id for user_id in users if user_id not in found]
    new = [Case(user_id=user_id, status=OPEN, first_day=first_day, last_day=last_day, opened_at=change.at,
                data_key_id=key_id) for user_id, key_id in zip(missing, change.new_keys("case", len(missing)))]
    change.session.add_all(new)
    change.session.flush()
    change.wrote("cases", "create", [case.id for case in new])
    found.update((case.user_id, case) for case in new)
    opened = {case.id for case in new}
    for user_id in users:
        case = found[user_id]
        if case.id in opened:
            result.opened.append(case.id)
        else:
            case.first_day, case.last_day = min(case.first_day, first_day), max(case.last_day, last_day)
            result.extended.append(case.id)
    return found


def _rows(change: CaseworkChange, case: Case, findings: list[Finding], keys: list[str], rows: list[dict]) -> list[int]:
    """The case_findings rows of `findings` in `case` (`keys`: their finding_key; each explanation
    sealed under the case's key), appended to `rows`; their ids."""
    ids = new_key_ids(len(findings))
    for f, key, row_id in zip(findings, keys, ids):
        rows.append(dict(
            id=row_id, case_id=case.id, finding_key=key, rule=f.rule, severity=f.severity, risk=f.risk,
            patient_id=f.patient_id, event_ids=compact_json(f.event_ids).decode("utf-8"),
            first_at=datetime.fromisoformat(f.first_at),
            last_at=datetime.fromisoformat(f.last_at), added_at=change.at,
            explanation=change.seal(case.data_key_id, "case_findings", "explanation", row_id, f.explanation)))
        f.case = case.id
    return ids


def _insert(change: CaseworkChange, rows: list[dict]) -> None:
    """The case_findings rows, many at a time (no ORM object each, nor the ORM's bulk path)."""
    change.insert(CaseFinding, rows)


# a review's cuts of its accesses, for some findings of each member (auditor.review.timeline.ReviewedAccesses)
Cutter = Callable[[list[tuple[str, list[Finding]]]], list[Cut]]
_CUT_CASES = 1_000  # cases cut at a time: their entries are Python objects until their parts are packed


def _keep_timelines(change: CaseworkChange, cuts: Cutter, parts: dict[int, tuple[str, list[int], list[Finding]]]) -> None:
    """Keep a part of each case's timeline: case id -> (member, case_findings ids, their findings)."""
    mac_key = change.gateway.audit_log.keyring.log_mac_key
    ordered = sorted(parts.items())
    for i in range(0, len(ordered), _CUT_CASES):
        batch = ordered[i : i + _CUT_CASES]
        made = cuts([(user_id, found) for _, (user_id, _, found) in batch])
        add_parts(change.session, [(case_id, ids, cut) for (case_id, (_, ids, _)), cut in zip(batch, made)],
                  mac_key, change.at)


def _untimed(change: CaseworkChange, findings: list[Finding], keys: list[str]) -> dict[int, tuple[str, list[int], list[Finding]]]:
    """The findings of this run already in cases that have no part of their timeline kept (cases
    reviewed before r0017): reviewing their period again gives them one."""
    placed = [(f, key) for f, key in zip(findings, keys) if f.case is not None]
    timed = cases_with_parts(change.session, [f.case for f, _ in placed])
    wanted = sorted({key for f, key in placed if f.case not in timed})
    ids: dict[str, int] = {}
    for i in range(0, len(wanted), _CHUNK):
        ids.update(change.session.execute(select(CaseFinding.finding_key, CaseFinding.id)
                                          .where(CaseFinding.finding_key.in_(wanted[i : i + _CHUNK]))).all())
    out: dict[int, tuple[str, list[int], list[Finding]]] = {}
    for f, key in placed:
        if key in ids:
            _, row_ids, theirs = out.setdefault(f.case, (f.user_id, [], []))
            if ids[key] not in row_ids:
                row_ids.append(ids[key])
                theirs.append(f)
    return out


def attach_findings(casework: Casework, findings: list[Finding], first_day: date, last_day: date,
                    timelines: Cutter | None = None) -> Attachment:
    """Put the unmuted findings of the period first_day..last_day into their members' cases, and set
    every finding's `case` to its case id (None for a muted finding in no case). `timelines`: the
    review's cut of its accesses, kept as a part of each case's timeline for the findings attached
    now (and for a case that has none yet), in the same transaction."""
    result = Attachment()
    keys = [finding_key(f) for f in findings]

    def work(change: CaseworkChange) -> Attachment:
        take_turns(change.session)
        known = _known(change.session, sorted(set(keys)))
        fresh, fresh_keys, seen = [], [], set()
        for f, key in zip(findings, keys):
            f.case = known.get(key)
            if f.case is None and not f.muted and key not in seen:
                fresh.append(f)
                fresh_keys.append(key)
                seen.add(key)
        for n, case_id in _covered(change.session, fresh).items():
            fresh[n].case = case_id
        result.already = sum(f.case is not None for f in findings)
        by_user: dict[str, list[Finding]] = {}
        their_keys: dict[str, list[str]] = {}  # each member's findings' keys, made once
        for f, key in zip(fresh, fresh_keys):
            if f.case is None:
                by_user.setdefault(f.user_id, []).append(f)
                their_keys.setdefault(f.user_id, []).append(key)
        untimed = _untimed(change, findings, keys) if timelines is not None else {}
        users = sorted(by_user)
        cases = _cases_for(change, users, first_day, last_day, result)
        span = f"{first_day.isoformat()} to {last_day.isoformat()}"
        opened = set(result.opened)
        parts: dict[int, tuple[str, list[int], list[Finding]]] = {}
        added: list[dict] = []
        history: list[tuple[Case, str, str, None]] = []
        for user_id in users:
            case, theirs = cases[user_id], by_user[user_id]
            parts[case.id] = (user_id, _rows(change, case, theirs, their_keys[user_id], added), theirs)
            new = case.id in opened
            history.append((case, "opened" if new else "findings_added", f"{len(theirs)} finding(s) of {span}", None))
            change.record("case", case.id, f"case {case.id} {'opened' if new else 'extended'} for user "
                          f"{user_id}: {len(theirs)} finding(s) of {span}", action="create" if new else "update")
            result.added += len(theirs)
            if len(added) >= _INSERT_ROWS:  # the rows go in as they are made: not millions of dicts at once
                _insert(change, added)
                added = []
        _insert(change, added)
        record_histories(change, history, change.ctx.user_id)
        placed = {key: f.case for f, key in zip(findings, keys) if f.case is not None}
        for f, key in zip(findings, keys):  # a finding listed twice gets its first copy's case
            f.case = placed.get(key) if f.case is None and not f.muted else f.case
        if timelines is not None:
            for case_id, (user_id, ids, theirs) in untimed.items():
                _, new_ids, new = parts.setdefault(case_id, (user_id, [], []))
                new_ids += ids
                new += theirs
            _keep_timelines(change, timelines, parts)
        return result

    if not findings:
        return result
    return casework.change("update", work)

"""The gateway records each row it writes to a ledger table (auditor.vault.ledger) as an audit event in
the same transaction. Mixed into AccessGateway.

A handful of rows go as ordinary events; a batch (an ingest writes thousands of encounters at a time)
goes as one block of events, which the log packs like an EHR's access log, so recording ten thousand
rows costs about as much as appending ten thousand imported accesses.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Iterable

from sqlalchemy.orm import Session

from auditor.audit.events import AuditEvent, ImportedEvents, stored_fields, to_microseconds
from auditor.errors import StorageError
from auditor.vault import ledger
from auditor.vault.gateway.context import AccessContext, Actor

if TYPE_CHECKING:  # pragma: no cover
    from auditor.vault.gateway.core import AccessGateway

AS_BLOCK_FROM = 64  # rows recorded at once from which their events go as one block


class RowRecording:
    def _record_rows(self: "AccessGateway", session: Session, events: list, ctx: AccessContext, actor: Actor,
                     at: datetime, table: str, action: str, keys: Iterable[int | str],
                     known: dict[str, bytes] | None = None) -> int:
        """Queue the ledger events of these rows of `table` (created, updated, or about to be deleted:
        a delete is recorded before the rows go, with their last digest). `known`: key (as text) ->
        digest of rows not to be read back (ServiceChange.insert). Returns how many."""
        if action not in ledger.ACTIONS:
            raise ValueError(f"unknown ledger action {action!r}")
        keys = list(dict.fromkeys(keys))
        if known:
            found = {str(key): known[str(key)] for key in keys if str(key) in known}
            found.update(ledger.digests(session.connection(), table, [key for key in keys if str(key) not in known]))
        else:
            found = ledger.digests(session.connection(), table, keys)
        if len(found) != len(keys):  # written in this transaction, so present: anything else is a bug
            raise StorageError(f"{len(keys) - len(found)} row(s) of {table} to record are not there; nothing changed")
        template = self._event(ctx, actor, action, at, record_type=ledger.record_type(table))
        if len(found) < AS_BLOCK_FROM:
            events += [replace(template, record_id=key, source_row_hash=digest) for key, digest in found.items()]
        else:
            events.append(as_block(template, len(found), source_row_hash=list(found.values()), record_id=list(found)))
        return len(found)

    def _each_event(self: "AccessGateway", events: list, ctx: AccessContext, actor: Actor, action: str, at: datetime,
                    varying: dict[str, list], **same) -> None:
        """Queue an event for each value in `varying`'s lists (patient_id, record_id, fields: a value an
        event), each as `_event(ctx, actor, action, at, **same)` makes it but for those columns. From
        AS_BLOCK_FROM events on they go as one block: the same stored values, so the same leaf hashes. A
        context load writes one for each patient it touched (1.6 million at 10M events a month), and an
        event stored as a row of its own costs a verification three times one of a block."""
        lengths = {len(values) for values in varying.values()}
        if len(lengths) != 1:
            raise ValueError(f"_each_event: one value an event in every varying column, not {sorted(lengths)}")
        n = lengths.pop()
        if n < AS_BLOCK_FROM:
            events += [self._event(ctx, actor, action, at, **same, **{name: values[i] for name, values in varying.items()})
                       for i in range(n)]
            return
        events.append(as_block(self._event(ctx, actor, action, at, **same), n, **varying))

    def record_existing(self: "AccessGateway", ctx: AccessContext, table: str, keys: list[int | str]) -> int:
        """Record rows already in a ledger table that no ledger event vouches for (a vault made before
        the ledger, at `auditor db upgrade`): one audited transaction."""

        def work(session: Session, events: list) -> int:
            at = self.clock.now()
            writer = self._require(session, ctx, events, "create", at)
            return self._record_rows(session, events, ctx, writer, at, table, "create", keys)

        return self._audited(work)


def as_block(template: AuditEvent, n: int, **varying: list) -> ImportedEvents:
    """`n` events, each `template` but for the columns in `varying` (a list of one value per event;
    `fields` as AuditEvent holds them, tuples): the same stored values, so the same leaf hashes, as `n`
    AuditEvents appended one by one."""
    same = lambda value: [value] * n  # noqa: E731
    columns = dict(
        at_us=same(to_microseconds(template.at)), source_event_id=same(template.source_event_id),
        source_row_hash=same(template.source_row_hash), user_id=same(template.user_id), role=same(template.role),
        action=same(template.action), patient_id=same(template.patient_id), record_type=same(template.record_type),
        purpose=same(template.purpose), break_glass=same(bool(template.break_glass)), reason=same(template.reason),
        outcome=same(template.outcome), workstation=same(template.workstation), record_id=same(template.record_id),
        fields=same(stored_fields(template.fields)), detail=same(template.detail))
    columns.update(varying)
    if "fields" in varying:
        columns["fields"] = [stored_fields(value) for value in varying["fields"]]
    return ImportedEvents.of_columns(source=template.source, **columns)

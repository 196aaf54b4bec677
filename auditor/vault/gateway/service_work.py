"""One audited unit of work for every service desk of the auditor (casework, release of information,
retention, the directory of names): one transaction, done as a service account allowed the action,
with the audit events its work records (`ServiceChange.record`, `record_rows`) appended in that
transaction, and the files it stages placed just before the commit; all of it, or nothing.

`AccessGateway.unit_of_work(ctx, action, work)` runs it; a desk (`ServiceDesk`: Casework, ReleaseDesk,
RecordsManagement, ReportDirectory) is a service account, a purpose of use and the columns its work
may seal, over that one method. Free text that may name a patient is sealed only into the columns
its kind of work declares."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ClassVar, Generic, Iterable, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

from auditor.audit.events import AuditEvent
from auditor.errors import DecryptionError
from auditor.phi_files import Outputs
from auditor.vault.gateway.context import AccessContext, Actor
from auditor.vault.gateway.bulk import insert_rows
from auditor.vault.gateway.recording import AS_BLOCK_FROM, as_block
from auditor.vault.ledger import LEDGER, written_digests

if TYPE_CHECKING:  # pragma: no cover
    from auditor.vault.gateway.core import AccessGateway

T = TypeVar("T")


@dataclass
class ServiceChange:
    """One unit of work in progress: its session, its time, its actor, the events it records and the
    files it stages. Subclasses name the columns their work may seal (SEALED) and add their reads."""

    SEALED: ClassVar[dict[str, tuple[str, ...]]] = {}  # table -> the columns this work may seal
    KIND: ClassVar[str] = "service"

    gateway: "AccessGateway"
    session: Session
    ctx: AccessContext
    actor: Actor
    at: datetime
    action: str
    events: list[AuditEvent] = field(default_factory=list)
    outputs: Outputs = field(default_factory=Outputs)
    written: dict[tuple[str, str], list[int | str]] = field(default_factory=dict)  # (table, action) -> keys
    # table -> key (as text) -> digest of rows created by `insert`, made from the values written
    inserted: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def record(self, record_type: str, record_id: int | str | None, detail: str, *, action: str | None = None,
               patient_id: int | None = None, fields: tuple[str, ...] = (), purpose: str | None = None,
               outcome: str = "success") -> None:
        """Queue the audit event of one change or read (detail: ids, states, counts and who acted; never
        a note or a reason, which may name a patient). `purpose`: this event's purpose of use, when it
        is not the unit's (a release names the request's); outcome "denied": an attempt refused (a
        failed sign-in)."""
        ctx = self.ctx if purpose is None else replace(self.ctx, purpose=purpose)
        self.events.append(self.gateway._event(ctx, self.actor, action or self.action, self.at,
                                               record_type=record_type, patient_id=patient_id, fields=fields,
                                               record_id=None if record_id is None else str(record_id),
                                               detail=detail[:256], outcome=outcome))

    def record_each(self, record_type: str, detail: str, *, patient_ids: list[int] | None = None,
                    record_ids: list[str] | None = None, fields: tuple[str, ...] = ()) -> None:
        """Queue the audit events of many reads of one kind, one per patient (`patient_ids`) or per
        record (`record_ids`), each as `record` would make it; from AS_BLOCK_FROM reads on they go as
        one block (a report's directory reads a patient's MRN for each of hundreds of thousands of
        findings)."""
        each = patient_ids if patient_ids is not None else record_ids
        if each is None or (patient_ids is not None and record_ids is not None):
            raise ValueError("record_each: patient_ids or record_ids, one of them")
        if len(each) < AS_BLOCK_FROM:
            for one in each:
                self.record(record_type, None if patient_ids is not None else one, detail, fields=fields,
                            patient_id=one if patient_ids is not None else None)
            return
        template = self.gateway._event(self.ctx, self.actor, self.action, self.at, record_type=record_type,
                                       fields=fields, detail=detail[:256])
        varying = {"patient_id": list(each)} if patient_ids is not None else {"record_id": [str(r) for r in each]}
        self.events.append(as_block(template, len(each), **varying))

    def record_rows(self, table: str, action: str, keys: list[int | str], known: dict[str, bytes] | None = None) -> None:
        """Queue the ledger events of rows of a ledger table this work wrote (or, for a delete, is
        about to delete): auditor.vault.ledger. Pending ORM changes are flushed first. `known`: key
        (as text) -> digest of rows whose digests need not be read back."""
        self.session.flush()
        if known is None and table in self.inserted:  # recorded now as it stands: not later as it was inserted
            for key in keys:
                self.inserted[table].pop(str(key), None)
        self.gateway._record_rows(self.session, self.events, self.ctx, self.actor, self.at, table, action, keys,
                                  known)

    def insert(self, model, rows: list[dict]) -> None:
        """Insert `rows` into `model`'s ledger table many at a time (bulk.insert_rows: dicts keyed by
        column, every row with the same ones) and note them created (`wrote`). Their digests are made
        from the values written when every backend stores those as given (ledger.written_digests),
        not read back: at 60M events a month a review creates 2.25 million case findings."""
        table = model.__tablename__
        digested = written_digests(table, self.session.connection(), rows)
        insert_rows(self.session, model, rows)
        key = LEDGER[table][1]
        self.wrote(table, "create", [row[key] for row in rows])
        if digested is not None:
            self.inserted.setdefault(table, {}).update(digested)

    def wrote(self, table: str, action: str, keys: Iterable[int | str]) -> None:
        """Note rows of a ledger table this work created or updated: they are recorded (`record_rows`)
        in one batch per table when the work returns, with their digests as the rows stand then. A
        delete is recorded at once (`record_rows`), while the rows are still there."""
        if action == "delete":
            raise ValueError("record a delete with record_rows, before the rows go")
        self.written.setdefault((table, action), []).extend(keys)

    def record_written(self) -> None:
        """Record what `wrote` noted (the unit of work calls this when its work returns)."""
        written, self.written = self.written, {}
        inserted, self.inserted = self.inserted, {}
        for (table, action), keys in written.items():
            known = None
            if action == "update":  # a row created in this work is recorded once, as it stands at the end
                created = set(written.get((table, "create"), ()))
                keys = [key for key in keys if key not in created]
            elif table in inserted:  # as inserted, unless this work updated it since: then as it stands
                updated = {str(key) for key in written.get((table, "update"), ())}
                known = {key: digest for key, digest in inserted[table].items() if key not in updated}
            if keys:
                self.record_rows(table, action, keys, known)

    def stage(self, folder: Path, files: dict[str, str | bytes]) -> list[Path]:
        """Write `files` into `folder` under temporary names (0600); they take their names just before
        this unit commits, and are taken away if it does not."""
        return [self.outputs.add(Path(folder) / name, content) for name, content in files.items()]

    def new_key(self, purpose: str) -> int:
        return self.gateway.envelope.create_key(purpose)

    def new_keys(self, purpose: str, count: int) -> list[int]:
        """`count` data keys in one commit of the key store (new_key for each costs a commit each)."""
        return self.gateway.envelope.create_keys(count, purpose)

    def _sealable(self, table: str, column: str) -> None:
        if column not in self.SEALED.get(table, ()):
            raise ValueError(f"{table}.{column} is not a {self.KIND} column")

    def seal(self, key_id: int, table: str, column: str, row_id: int, text: str | None) -> bytes | None:
        self._sealable(table, column)
        return self.gateway.envelope.seal(key_id, table, column, row_id, text)

    def open(self, sealed: bytes | None, table: str, column: str, row_id: int) -> str | None:
        """A value of one of this work's sealed columns; None once its key was destroyed (retention)."""
        self._sealable(table, column)
        try:
            return self.gateway.envelope.open(sealed, table, column, row_id)
        except DecryptionError:
            return None

    def patient_ids(self, mrns: list[str]) -> dict[str, int]:
        """Internal patient ids by MRN, through the blind index (no MRN is stored by this work)."""
        return self.gateway.patient_ids(self.session, mrns)


C = TypeVar("C", bound=ServiceChange)


class ServiceWork:
    """The unit of work, mixed into AccessGateway."""

    def unit_of_work(self: "AccessGateway", ctx: AccessContext, action: str, work: Callable[[C], T],
                     change: type[C] = ServiceChange) -> T:  # type: ignore[assignment]
        """Run `work(change)` in one transaction as `ctx`, which must be a service account allowed
        `action` for its purpose (refused and audited otherwise), with the events it records. The
        files it stages are renamed into place after its events are appended, as the last step before
        COMMIT, and taken away again if the commit fails: a packet and the ledger entry it goes with
        exist together or not at all."""
        outputs = Outputs()
        committed: list[bool] = []

        def audited(session: Session, events: list[AuditEvent]) -> T:
            at = self.clock.now()
            actor = self._require(session, ctx, events, action, at)
            done = change(self, session, ctx, actor, at, action, events, outputs)
            result = work(done)
            done.record_written()
            if outputs.paths:
                event.listen(session, "before_commit", lambda _: outputs.commit(), once=True)
                event.listen(session, "after_commit", lambda _: committed.append(True), once=True)
            return result

        try:
            result = self._audited(audited)
        except BaseException:
            if committed:  # a failure after the commit (e.g. the key store's usage counts): the files stand
                outputs.finish()
            else:
                outputs.undo()
                outputs.discard()
            raise
        outputs.finish()
        return result


class ServiceDesk(Generic[C]):
    """A service account's desk: every change and every read of sealed text is one unit of work."""

    CHANGE: ClassVar[type] = ServiceChange
    SERVICE: ClassVar[str]
    PURPOSE: ClassVar[str] = "HOPERAT"  # HL7 v3 PurposeOfUse: health care operations

    def __init__(self, gateway: "AccessGateway", ctx: AccessContext | None = None) -> None:
        self.gateway = gateway
        self.ctx = ctx or AccessContext.service(self.SERVICE, self.PURPOSE)

    def change(self, action: str, work: Callable[[C], T]) -> T:
        """Run `work` in one unit of work with the audit events it records (or none of it)."""
        return self.gateway.unit_of_work(self.ctx, action, work, self.CHANGE)

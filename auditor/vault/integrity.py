"""`auditor audit verify` of a whole vault: the audit log (auditor.audit.verify) and, in the same
snapshot, the rows of the ledger's tables against what the log recorded of them (auditor.vault.ledger).

What the CLI, the monthly report's cover and `auditor audit archive` call: a vault verifies only when
its log does and every row the engine and the reports trust is the row the gateway wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, select, update

from auditor.audit.seal import block_header_seal
from auditor.audit.verify import Verification, verify_log
from auditor.crypto.keyring import Keyring
from auditor.errors import TamperDetected
from auditor.vault import ledger


def _rows_check(conn: Connection, entries: list) -> list[tuple[str, str]]:
    return [(p.kind, p.message) for p in ledger.compare(conn, entries)]


def verify_vault(records: Engine, keyring: Keyring, checkpoint_files: list[Path], **options) -> Verification:
    """The log's verification, with a problem of kind row-inserted, row-edited or row-deleted for
    each row of a ledger table written behind the gateway (`options`: those of verify_log)."""
    return verify_log(records, keyring, checkpoint_files, rows_check=_rows_check, **options)


def row_problems(result: Verification) -> list:
    return [p for p in result.problems if p.kind.startswith("row-")]


def log_problems(result: Verification) -> list:
    return [p for p in result.problems if not p.kind.startswith("row-")]


def carry_over(gateway, entries: list, through_seq: int) -> int:
    """Record again every row whose latest ledger event is at or before `through_seq` (about to leave
    the database with an archive): one "update" ledger event each, at the log's end, as svc:retention
    for records management. Returns how many rows were recorded again."""
    from auditor.vault.gateway.retention import RecordsManagement

    leaving = {table: [key for key, (seq, _) in rows.items() if seq <= through_seq]
               for table, rows in ledger.recorded_rows(entries).items()}
    leaving = {table: keys for table, keys in leaving.items() if keys}
    if not leaving:
        return 0

    def work(change) -> None:
        for table, keys in leaving.items():
            column = ledger.LEDGER[table][0].c[ledger.LEDGER[table][1]]
            typed = [column.type.python_type(k) for k in keys]  # the keys as the column holds them
            change.record_rows(table, "update", typed)

    RecordsManagement(gateway).change("update", work)
    return sum(map(len, leaving.values()))


# -- vaults made before r0009 (`auditor db upgrade`) ------------------------------------------------------
@dataclass
class Adoption:
    headers_sealed: int = 0
    archives_signed: int = 0
    rows_recorded: int = 0


def adopt_legacy(vault) -> Adoption:
    """What r0009 needs of a vault made before it, once its log verifies: each block's header sealed
    (its values taken from its events), each archive record signed (when the root it holds is the one
    its leaves fold to and a checkpoint of this keyring signed it), and every row of the ledger's
    tables recorded as it stands, as svc:import. Refused (nothing changed) when the log does not
    verify: an upgrade must never vouch for what was altered."""
    checked = verify_log(vault.records, vault.keyring, [vault.checkpoints.path])
    if [p for p in log_problems(checked) if p.kind != "block-unsealed"]:
        raise TamperDetected("the audit log does not verify (run: auditor audit verify); the upgrade sealed nothing: "
                             "restore the records database from a backup, then run auditor db upgrade again")
    done = Adoption()
    with vault.records.begin() as conn:
        done.headers_sealed = _seal_headers(conn, vault.keyring.log_mac_key)
        done.archives_signed = _sign_archives(conn, vault)
    if not checked.ledger:  # a log with any ledger event was kept by a ledger: never vouch for rows again
        done.rows_recorded = _record_all_rows(vault.gateway, checked.ledger)
    return done


def needs_adoption(records: Engine) -> bool:
    """Whether a vault still holds what came before r0009: block headers without a seal, archive records
    without a signature, or a log without any ledger event (every vault since writes one at init)."""
    from auditor.audit.archive_records import ARCHIVES
    from auditor.audit.blocks import BLOCKS, EVENTS

    with records.connect() as conn:
        return bool(conn.scalar(select(BLOCKS.c.first_seq).where(BLOCKS.c.header_seal.is_(None)).limit(1))
                    or conn.scalar(select(ARCHIVES.c.id).where(ARCHIVES.c.signature.is_(None)).limit(1))
                    or not conn.scalar(select(EVENTS.c.seq).where(EVENTS.c.record_type.like("table:%")).limit(1)))


def _seal_headers(conn: Connection, mac_key: bytes) -> int:
    from auditor.audit import blocks

    B = blocks.BLOCKS
    rows = conn.execute(select(B.c.first_seq, B.c.last_seq).where(B.c.header_seal.is_(None))).all()
    for first, last in rows:  # the header from the events themselves (verify checked them), a block at a time
        packed = conn.scalar(select(B.c.events).where(B.c.first_seq == first))  # never the whole log at once
        table = blocks.decode(bytes(packed), first, last)
        span = pc.min_max(table["at_us"]).as_py()
        header = {"first_seq": first, "last_seq": last, "source": table["source"][0].as_py(),
                  "first_at_us": span["min"], "last_at_us": span["max"]}
        conn.execute(update(blocks.BLOCKS).where(blocks.BLOCKS.c.first_seq == first)
                     .values(**header, header_seal=block_header_seal(mac_key, **header)))
    return len(rows)


def _sign_archives(conn: Connection, vault) -> int:
    from auditor.audit import merkle
    from auditor.audit.archive_records import ARCHIVES, LEAVES, archive_records, sign_record
    from auditor.audit.schema import ArchivedLeaf

    signed_roots = {(cp.size, cp.root) for cp in vault.checkpoints.read()[0]
                    if cp.verify(vault.keyring.signing_public_key)}
    leaves = [bytes(h) for (h,) in conn.execute(  # LEAVES at a time (a server-side cursor on PostgreSQL)
        select(ArchivedLeaf.leaf_hash).order_by(ArchivedLeaf.seq).execution_options(yield_per=LEAVES))]
    count = 0
    for record in archive_records(conn):
        if record.signature is not None:
            continue
        if (record.last_seq, record.root) not in signed_roots or merkle.tree_hash(leaves[:record.last_seq]) != record.root:
            raise TamperDetected(f"archive record {record.id} does not match a signed checkpoint: not signed")
        fields = {name: getattr(record, name) for name in ("first_seq", "last_seq", "before_us", "file_name",
                                                           "file_sha256", "root", "created_us")}
        conn.execute(update(ARCHIVES).where(ARCHIVES.c.id == record.id)
                     .values(signature=sign_record(vault.keyring.signing_key, **fields)))
        count += 1
    return count


def adopt_tables(vault, tables: Iterable[str]) -> int:
    """Record the rows that tables just brought into the ledger already hold (`auditor db upgrade`
    past a revision of ledger.ADDED_BY_REVISION), as svc:import; how many. Refused (nothing recorded)
    when the log does not verify: an upgrade must never vouch for what was altered."""
    tables = sorted(set(tables))
    if not tables:
        return 0
    checked = verify_log(vault.records, vault.keyring, [vault.checkpoints.path])
    if log_problems(checked):
        raise TamperDetected("the audit log does not verify (run: auditor audit verify); the upgrade recorded no "
                             f"row of {', '.join(tables)}: restore the records database from a backup, then run "
                             "auditor db upgrade again")
    return _record_all_rows(vault.gateway, checked.ledger, tables)


def _record_all_rows(gateway, entries: list, tables: Iterable[str] = tuple(ledger.LEDGER)) -> int:
    """Record every row of these ledger tables that the log does not already vouch for."""
    from auditor.vault.gateway import AccessContext

    recorded = ledger.recorded_rows(entries)
    count = 0
    with gateway.records.connect() as conn:
        missing = {table: [key for key, _ in ledger.all_digests(conn, table) if key not in recorded.get(table, {})]
                   for table in tables}
    for table, keys in missing.items():
        column = ledger.LEDGER[table][0].c[ledger.LEDGER[table][1]]
        for i in range(0, len(keys), 20_000):
            part = [column.type.python_type(k) for k in keys[i : i + 20_000]]
            count += gateway.record_existing(AccessContext.service("import"), table, part)
    return count

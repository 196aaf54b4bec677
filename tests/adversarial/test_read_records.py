"""The record of a report's reads (one audit event per patient whose MRN it read, stored together as one
block from AS_BLOCK_FROM reads on: auditor.vault.gateway.service_work.record_each) against someone with
write access to records.db: a patient taken out of the record, or the whole record deleted, is named by
`auditor audit verify`, as for any other event."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pyarrow as pa
import pyarrow.compute as pc

from auditor.audit import blocks
from auditor.home import create_home
from auditor.vault.gateway.directory import ReportDirectory
from tests.conftest import FAST_SCRYPT

READ = 200  # patients whose MRN a report read


def _vault_with_reads(tmp_path, clock):
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    ReportDirectory(vault.gateway).change("view", lambda change: change.record_each(
        "demographics", "MRN for a report", patient_ids=list(range(1000, 1000 + READ)), fields=("mrn",)))
    vault.close()
    return tmp_path / "home"


def _reads_block(conn):
    return conn.execute("SELECT first_seq, last_seq, events, leaves, seals FROM audit_event_blocks "
                        "WHERE source = 'vault' ORDER BY first_seq DESC LIMIT 1").fetchone()


def test_a_patient_taken_out_of_a_reports_reads_is_named(auditor, tmp_path, clock):
    home = _vault_with_reads(tmp_path, clock)
    with closing(sqlite3.connect(home / "records.db")) as conn, conn:
        first, last, events, _, _ = _reads_block(conn)
        table = blocks.decode(events, first, last)
        assert table.num_rows == READ and table["record_type"][0].as_py() == "demographics"
        at = table.schema.get_field_index("patient_id")
        changed = pc.if_else(pc.equal(table["patient_id"], 1042), pa.scalar(1043, pa.int64()), table["patient_id"])
        conn.execute("UPDATE audit_event_blocks SET events = ? WHERE first_seq = ?",
                     (blocks.encode_table(table.set_column(at, "patient_id", changed)), first))
    checked = auditor("audit", "verify")
    assert checked.code == 1
    assert f"seq {first + 42}: edited" in checked.out


def test_a_reports_reads_deleted_whole_are_named(auditor, tmp_path, clock):
    home = _vault_with_reads(tmp_path, clock)
    with closing(sqlite3.connect(home / "records.db")) as conn, conn:
        first, last, *_ = _reads_block(conn)
        conn.execute("DELETE FROM audit_event_blocks WHERE first_seq = ?", (first,))
    checked = auditor("audit", "verify")
    assert checked.code == 1
    # the block was the log's tail: the signed head names every event it took
    assert f"seq {first}: head-mismatch: the log head says {last} events but {first - 1} are present" in checked.out

"""The access log's writer pipeline: chunks come back in order once committed; a block packed ahead
of its transaction is used only when the log is still as it was prepared for (another writer in
between, or events loaded meanwhile, make the transaction do the work again); a failed batch stops
the stream; and whatever happened, the log verifies and holds each event once."""

from __future__ import annotations

import hashlib
import threading

import pyarrow as pa
import pytest

from auditor.audit.log import AuditLog
from auditor.audit.verify import verify_log
from auditor.errors import AuditWriteFailed
from auditor.ingest.ehr_import import ingest_directory
from auditor.vault.gateway import EHR_EVENT_COLUMNS, AccessContext
from auditor.vault.gateway.core import AccessGateway
from auditor.vault.gateway.lookups import IngestLookups
from tests.ingest import interchange_data as data
from tests.ingest.test_interchange import NEW_YORK, ehr_events, utc
from tests.refusing_database import refusing

IMPORT = AccessContext.service("import")
TYPES = {"at_us": pa.int64(), "break_glass": pa.bool_(), "row_hash": pa.binary()}


def events(ids: list[str], mrn: str = "MRN-1", user: str = "dr.zoe") -> pa.Table:
    """EHR access events, one per id, as the ingest hands them to the gateway."""
    n = len(ids)
    columns = {"event_id": ids, "at_us": [utc(2026, 11, 2, 9) + i for i in range(n)], "user_id": [user] * n,
               "mrn": [mrn] * n, "action": ["view"] * n, "record_type": ["note"] * n, "outcome": ["success"] * n,
               "purpose": ["treat"] * n, "break_glass": [False] * n, "reason": [None] * n,
               "workstation": ["WS-1"] * n, "row_hash": [hashlib.sha256(i.encode()).digest() for i in ids]}
    return pa.table({c: pa.array(columns[c], TYPES.get(c, pa.string())) for c in EHR_EVENT_COLUMNS})


@pytest.fixture
def loaded(vault, tmp_path):
    """A vault holding the small export's people (and its access log)."""
    ingest_directory(vault.gateway, data.write_export(tmp_path / "export"), NEW_YORK)
    return vault


class PackingSeen(AuditLog):
    """The vault's audit log, noting which thread packs each block: the pipeline's own, ahead of the
    block's transaction, or the writer's, in it (the log had changed since)."""

    def __init__(self, log: AuditLog) -> None:
        super().__init__(log.keyring, log.envelope, log.log_key_id, log.checkpoints, log.clock, log.checkpoint_every)
        self.packed_by: list[str] = []

    def prepare(self, *args, **kwargs):
        self.packed_by.append("writer" if threading.current_thread().name.startswith("audit-log-writer") else "ahead")
        return super().prepare(*args, **kwargs)


@pytest.fixture
def watched(loaded) -> tuple[AccessGateway, list[str]]:
    """A gateway over the loaded vault, given a PackingSeen log; and the list of who packed what."""
    g, log = loaded.gateway, PackingSeen(loaded.audit_log)
    return AccessGateway(g.records, g.envelope, g.indexer, log, g.policy, g.clock), log.packed_by


def _verified(vault) -> bool:
    return verify_log(vault.records, vault.keyring, [vault.checkpoints.path]).ok


def test_chunks_come_back_in_order_with_their_counts_and_every_block_was_packed_ahead(loaded, watched):
    gateway, prepares = watched
    chunks = [events([f"c{c}-{i}" for i in range(5)]) for c in range(4)] + [events([])]
    out = list(gateway.append_ehr_chunks(IMPORT, "ehr", chunks, lambda t: t, batch=2))
    assert [chunk for chunk, _ in out] == chunks
    assert [done.appended for _, done in out] == [5, 5, 5, 5, 0]
    assert prepares and set(prepares) == {"ahead"}  # 12 batches, none hashed again in its transaction
    stored = ehr_events(loaded)
    assert {f"c{c}-{i}" for c in range(4) for i in range(5)} <= set(stored)
    assert _verified(loaded)


def test_a_writer_in_between_makes_the_transaction_pack_again_and_nothing_is_lost(loaded, watched):
    gateway, prepares = watched

    def chunks():
        for c in range(3):
            yield events([f"w{c}-{i}" for i in range(4)])
            # another writer takes the next sequence numbers while a batch is prepared or committing
            loaded.gateway.append_ehr_events(IMPORT, "other", events([f"o{c}"]))

    out = list(gateway.append_ehr_chunks(IMPORT, "ehr", chunks(), lambda t: t))
    assert [done.appended for _, done in out] == [4, 4, 4]
    assert "writer" in prepares  # a prepared block was refused and packed again
    assert {f"w{c}-{i}" for c in range(3) for i in range(4)} <= set(ehr_events(loaded))
    assert set(ehr_events(loaded, "other")) == {"o0", "o1", "o2"}
    assert _verified(loaded)


def test_events_loaded_after_a_batch_was_prepared_are_counted_present_not_appended_twice(loaded):
    gateway = loaded.gateway
    result, frame = gateway._ehr_frame(events(["p1", "p2", "p3"]), IngestLookups())
    part = gateway._prepare_ehr_batch("ehr", frame, gateway._log_size())
    assert part.loaded == {} and part.new.num_rows == 3
    gateway.append_ehr_events(IMPORT, "ehr", events(["p2"]))  # loaded between preparing and writing
    gateway._append_ehr_batch(IMPORT, "ehr", part, result)
    assert (result.appended, result.already_present, result.conflicting) == (2, 1, [])
    assert [e for e in ehr_events(loaded) if e.startswith("p")] == ["p2", "p1", "p3"]
    assert _verified(loaded)


def test_an_event_id_repeated_in_a_batch_is_its_first_row_s_never_the_whole_batch_refused(loaded):
    """A file, a feed or an extract may repeat a row: the repeat is present, a repeat with other
    content conflicts (quarantined by the caller); the rest of the batch loads."""
    table = events(["r1", "r2", "r1", "r3", "r2", "r1"])
    hashes = table["row_hash"].to_pylist()
    hashes[4] = hashlib.sha256(b"other content").digest()  # r2 again, changed
    table = table.set_column(table.schema.get_field_index("row_hash"), "row_hash", pa.array(hashes, pa.binary()))
    result = loaded.gateway.append_ehr_events(IMPORT, "ehr", table, batch=100)
    assert (result.appended, result.already_present, result.conflicting) == (3, 2, [4])
    assert [e for e in ehr_events(loaded) if e.startswith("r")] == ["r1", "r2", "r3"]
    again = loaded.gateway.append_ehr_events(IMPORT, "ehr", table, batch=100)  # a rerun: all loaded before
    assert (again.appended, again.already_present, again.conflicting) == (0, 5, [4])
    assert _verified(loaded)


def test_a_failed_batch_stops_the_stream_before_the_next_begins(loaded):
    chunks = [events([f"f{c}-{i}" for i in range(3)]) for c in range(4)]
    # the database refuses the second batch's events: its transaction fails and rolls back
    with refusing(loaded.records, "audit_imported_keys", "INSERT", "NEW.source_event_id = 'f1-0'"):
        with pytest.raises(AuditWriteFailed, match="^the audit log could not be written"):
            for _ in loaded.gateway.append_ehr_chunks(IMPORT, "ehr", chunks, lambda t: t):
                pass
    stored = {e for e in ehr_events(loaded) if e.startswith("f")}
    assert stored == {"f0-0", "f0-1", "f0-2"}  # neither the refused batch nor any after it
    assert _verified(loaded)


def test_a_database_refusing_the_read_ahead_is_a_storage_error_naming_no_event(loaded):
    from auditor.errors import StorageError

    # the keys the read-ahead looks events up in are gone (the database's error names the event id)
    with loaded.records.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE audit_imported_keys RENAME TO audit_imported_keys_away")
    try:
        with pytest.raises(StorageError, match=r"^the database refused a read \((OperationalError|ProgrammingError)\); "
                                               r"nothing changed$") as refused:
            list(loaded.gateway.append_ehr_chunks(IMPORT, "ehr", [events(["r-secret"])], lambda t: t))
        assert "r-secret" not in str(refused.value) and refused.value.__cause__ is None
    finally:
        with loaded.records.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE audit_imported_keys_away RENAME TO audit_imported_keys")
    assert "r-secret" not in ehr_events(loaded)
    assert _verified(loaded)

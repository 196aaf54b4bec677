"""A vault made before imported events were stored in blocks holds them as audit_events rows (and
migration r0007 adds the block tables beside them). A rerun of the same export into such a vault
adds nothing, a changed row under a loaded event id is still a conflict, and the log of rows and
blocks together verifies."""

from __future__ import annotations

from alembic import command
from sqlalchemy import delete, inspect, insert, select

from auditor import database
from auditor.audit.blocks import BLOCKS, EVENTS, stored_events
from auditor.audit.events import CANONICAL_COLUMNS
from auditor.audit.log import KEYS
from auditor.audit.verify import verify_log
from auditor.ingest.ehr_import import ingest_directory
from tests.ingest import interchange_data as data
from tests.ingest.test_interchange import NEW_YORK, ehr_events


def _as_rows_of_an_older_vault(vault) -> None:
    """Move every block's events into audit_events rows (values, leaf and seal as stored), as a vault
    from before r0007 holds them, and forget their keys."""
    with vault.records.begin() as conn:
        moved = [(*e.row, e.leaf, e.seal) for e in stored_events(conn) if e.row[2] != "vault"]
        conn.execute(delete(BLOCKS))
        conn.execute(delete(KEYS))
        names = (*CANONICAL_COLUMNS, "leaf_hash", "seal")
        conn.execute(insert(EVENTS), [dict(zip(names, r)) for r in moved])


def _verified(vault) -> bool:
    return verify_log(vault.records, vault.keyring, [vault.checkpoints.path]).ok


def test_a_rerun_over_events_stored_as_rows_adds_nothing(vault, tmp_path):
    folder = data.write_export(tmp_path / "export")
    first = ingest_directory(vault.gateway, folder, NEW_YORK)
    _as_rows_of_an_older_vault(vault)
    with vault.records.connect() as conn:
        assert conn.scalar(select(EVENTS.c.seq).where(EVENTS.c.source == "ehr").limit(1)) is not None
    assert _verified(vault)
    second = ingest_directory(vault.gateway, folder, NEW_YORK)
    count = second.files["access_log.csv"]
    assert count.loaded == 0 and count.already_present == first.files["access_log.csv"].loaded

    changed = [dict(data.ACCESS_LOG[0], user_id="n.anouk")] + data.ACCESS_LOG[1:]
    third = ingest_directory(vault.gateway, data.write_export(tmp_path / "two", access_log=changed), NEW_YORK)
    assert [r.reason for r in third.rejected] == ["event_id already loaded from source ehr with different content"]
    assert ehr_events(vault)["a1"].user_id == "dr.zoe"

    more = [dict(data.ACCESS_LOG[0], event_id="new-1", workstation="WS-new")]
    fourth = ingest_directory(vault.gateway, data.write_export(tmp_path / "three", access_log=more), NEW_YORK)
    assert fourth.files["access_log.csv"].loaded == 1  # into a block, beside the older rows
    assert "new-1" in ehr_events(vault) and _verified(vault)


def test_r0007_adds_the_block_tables_and_downgrade_removes_them(tmp_path):
    engine = database.connect(f"sqlite:///{tmp_path / 'old.db'}", must_exist=False)
    config = database._alembic_config("records", engine)
    command.upgrade(config, "r0006")
    assert "audit_event_blocks" not in inspect(engine).get_table_names()
    database.upgrade("records", engine)
    tables = set(inspect(engine).get_table_names())
    assert {"audit_event_blocks", "audit_imported_keys"} <= tables
    command.downgrade(config, "r0006")
    assert not {"audit_event_blocks", "audit_imported_keys"} & set(inspect(engine).get_table_names())
    engine.dispose()

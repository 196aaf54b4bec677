"""Migration r0008: on PostgreSQL a source's event ids compare byte by byte (collation "C"), keys already
loaded kept; on SQLite, which compares text by bytes already, it changes nothing."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text

from auditor import database

COLLATION = """SELECT table_name, collation_name FROM information_schema.columns
               WHERE column_name = 'source_event_id' ORDER BY table_name"""


@pytest.mark.postgres
def test_r0008_sorts_event_ids_by_bytes_on_postgres_and_downgrade_restores_the_database_s_order(fresh_postgres_db):
    engine = database.connect(fresh_postgres_db(icu_locale="en-US"))
    config = database._alembic_config("records", engine)
    command.upgrade(config, "r0007")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_imported_keys (source, source_event_id, seq) "
                          "VALUES ('ehr', 'B2', 1), ('ehr', 'a1', 2)"))
        assert conn.execute(text(COLLATION)).all() == [("audit_events", None), ("audit_imported_keys", None)]
        language = conn.scalars(text("SELECT source_event_id FROM audit_imported_keys ORDER BY 1")).all()
    assert language == ["a1", "B2"]  # en-US, not bytes
    assert database.upgrade("records", engine) == ("r0007", database.head_revision("records"))
    with engine.begin() as conn:
        assert conn.execute(text(COLLATION)).all() == [("audit_events", "C"), ("audit_imported_keys", "C")]
        assert conn.scalars(text("SELECT source_event_id FROM audit_imported_keys ORDER BY 1")).all() == ["B2", "a1"]
        assert conn.scalars(text("SELECT source_event_id FROM audit_imported_keys "
                                 "WHERE source_event_id BETWEEN 'B2' AND 'a1'")).all() == ["B2", "a1"]
    command.downgrade(config, "r0007")
    with engine.begin() as conn:
        assert conn.execute(text(COLLATION)).all() == [("audit_events", None), ("audit_imported_keys", None)]
    engine.dispose()


def test_r0008_changes_nothing_on_sqlite(tmp_path):
    engine = database.connect(f"sqlite:///{tmp_path / 'old.db'}", must_exist=False)
    config = database._alembic_config("records", engine)
    command.upgrade(config, "r0007")
    def columns():
        return {t: [(c["name"], repr(c["type"]), c["nullable"]) for c in inspect(engine).get_columns(t)]
                for t in ("audit_events", "audit_imported_keys")}

    before = columns()
    assert database.upgrade("records", engine) == ("r0007", database.head_revision("records"))
    assert columns() == before
    engine.dispose()

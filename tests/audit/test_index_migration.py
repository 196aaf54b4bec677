"""Migration r0006: a vault made before it loses the (user_id, at_us) index of the audit log, which no
query reads and every append paid for; the log it holds still verifies."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from auditor import database


def _indexes(engine) -> set[str]:
    return {i["name"] for i in inspect(engine).get_indexes("audit_events")}


def test_r0006_drops_the_user_time_index_and_downgrade_restores_it(tmp_path):
    engine = database.connect(f"sqlite:///{tmp_path / 'old.db'}", must_exist=False)
    config = database._alembic_config("records", engine)
    command.upgrade(config, "r0005")
    assert "ix_audit_events_user_time" in _indexes(engine)
    assert database.upgrade("records", engine) == ("r0005", database.head_revision("records"))
    assert "ix_audit_events_user_time" not in _indexes(engine)
    assert "ix_audit_events_patient_id" in _indexes(engine)  # the patient report reads by patient
    command.downgrade(config, "r0005")
    assert "ix_audit_events_user_time" in _indexes(engine)
    engine.dispose()

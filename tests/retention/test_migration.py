"""Migrations r0004 and r0010 go down and up again: the retention tables, their triggers, and the
suppressions' foreign key to patients (dropped so that a suppression outlives a purged patient); the
plans (r0010) are append-only."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError

from auditor import database

TABLES = {"retention_holds", "retention_hold_history", "retention_purges", "retention_purge_items"}


def _state(engine):
    inspector = inspect(engine)
    fks = [fk["referred_table"] for fk in inspector.get_foreign_keys("suppressions")]
    return TABLES & set(inspector.get_table_names()), fks


def test_r0004_down_and_up(tmp_path):
    engine = database.connect(f"sqlite:///{tmp_path / 'records.db'}", must_exist=False)
    database.upgrade("records", engine)
    assert _state(engine) == (TABLES, [])
    command.downgrade(database._alembic_config("records", engine), "r0003")
    assert _state(engine) == (set(), ["patients"])
    database.upgrade("records", engine)
    assert _state(engine) == (TABLES, [])
    with engine.connect() as conn:
        triggers = {r[0] for r in conn.exec_driver_sql("select name from sqlite_master where type = 'trigger'")}
    assert {"retention_hold_history_no_update", "retention_purges_no_delete",
            "retention_purge_items_no_delete"} <= triggers
    engine.dispose()


PLANS = {"retention_plans", "retention_plan_patients"}


def _plans_state(engine):
    inspector = inspect(engine)
    purge_columns = {c["name"] for c in inspector.get_columns("retention_purges")}
    return PLANS & set(inspector.get_table_names()), "plan_id" in purge_columns


def _refused(engine, statement: str) -> bool:
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(statement)
    except DBAPIError:
        return True
    return False


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_r0010_down_and_up_and_plans_are_append_only(tmp_path, request, backend):
    url = (request.getfixturevalue("fresh_postgres_db")() if backend == "postgres"
           else f"sqlite:///{tmp_path / 'records.db'}")
    engine = database.connect(url, must_exist=False)
    database.upgrade("records", engine)
    assert _plans_state(engine) == (PLANS, True)
    command.downgrade(database._alembic_config("records", engine), "r0008")
    assert _plans_state(engine) == (set(), False)
    database.upgrade("records", engine)
    assert _plans_state(engine) == (PLANS, True)
    with engine.begin() as conn:
        conn.exec_driver_sql("insert into retention_plans (id, as_of, schedule, schedule_digest, digest, eligible, "
                             "recorded_at) values (1, '2026-11-02', 'default', 'd', 'p', 1, 0)")
        conn.exec_driver_sql("insert into retention_plan_patients values (1, 7, 9)")
    for statement in ("update retention_plans set digest = 'x'", "delete from retention_plans",
                      "update retention_plan_patients set patient_id = 8", "delete from retention_plan_patients"):
        assert _refused(engine, statement), statement
    assert not _refused(engine, "insert into retention_purges (as_of, schedule, schedule_digest, plan_id, approver, "
                                "performer, status, started_at) values ('2026-11-02', 'default', 'd', 1, 'a', 'a', "
                                "'running', 0)")
    engine.dispose()

"""A database that refuses a write, as a full disk, a lost permission or an operator's constraint would:
a trigger that aborts the statement, on SQLite and on PostgreSQL. The code under test meets a real
database error through its real connections, and nothing in it is patched."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Engine

MESSAGE = "refused by the test"


@contextmanager
def refusing(engine: Engine, table: str, event: str = "UPDATE", when: str = "TRUE") -> Iterator[None]:
    """While inside, every `event` (INSERT, UPDATE, DELETE) on `table` of a row meeting `when` (SQL on
    NEW or OLD) fails, and the statement with it."""
    name = f"refuse_{event.lower()}_{table}"
    if engine.dialect.name == "sqlite":
        create = [f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW WHEN ({when}) "
                  f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"]
        drop = [f"DROP TRIGGER {name}"]
    else:
        create = [f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                  f"$$ BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$",
                  f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION {name}()"]
        drop = [f"DROP TRIGGER {name} ON {table}", f"DROP FUNCTION {name}()"]
    with engine.begin() as conn:
        for statement in create:
            conn.exec_driver_sql(statement)
    try:
        yield
    finally:
        with engine.begin() as conn:
            for statement in drop:
                conn.exec_driver_sql(statement)

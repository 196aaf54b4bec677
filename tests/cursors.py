"""Which kind of DB-API cursor a statement ran on: psycopg's ServerCursor for a server-side cursor (a
streamed read, `chunk` rows fetched at a time), Cursor for an ordinary one (SQLite's and psycopg's
client-side cursor, which holds a whole result before its first row is read). Nothing is patched: the
class is seen by an event listener as each statement runs. A named cursor the code opens on the driver
itself (auditor.policy.frames) runs no SQLAlchemy event: the server says what it ran (last_on_server).

    with cursor_classes(vault.records, lambda sql: "FROM patients" in sql) as seen:
        ...
    assert seen == ["ServerCursor"]
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from sqlalchemy import Connection, Engine, event, text


@contextmanager
def cursor_classes(target: Engine | Connection, counted: Callable[[str], bool] = lambda sql: True,
                   ) -> Iterator[list[str]]:
    """While inside, the class name of the DB-API cursor of each statement run on `target` (an engine,
    or one connection) whose SQL `counted` accepts, in the order they ran."""
    seen: list[str] = []

    def ran(conn, cursor, statement, parameters, context, executemany):
        if counted(statement):
            seen.append(type(cursor).__name__)

    event.listen(target, "before_cursor_execute", ran)
    try:
        yield seen
    finally:
        event.remove(target, "before_cursor_execute", ran)


def last_on_server(conn: Connection) -> str:
    """PostgreSQL: the statement the server ran last in `conn`'s session, as pg_stat_activity shows it
    to another session (a server-side cursor of the driver's own ends with CLOSE "its name")."""
    pid = conn.connection.driver_connection.info.backend_pid
    with conn.engine.connect() as other:
        return other.execute(text("SELECT query FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar_one()

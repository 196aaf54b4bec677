"""Which kind of DB-API cursor a statement ran on: psycopg's ServerCursor for a server-side cursor (a
streamed read, `chunk` rows fetched at a time), Cursor for an ordinary one (SQLite's and psycopg's
client-side cursor, which holds a whole result before its first row is read). Nothing is patched: the
class is seen by an event listener as each statement runs.

    with cursor_classes(vault.records, lambda sql: "FROM patients" in sql) as seen:
        ...
    assert seen == ["ServerCursor"]
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from sqlalchemy import Connection, Engine, event


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

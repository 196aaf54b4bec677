"""Rows written many at a time, inside the caller's transaction.

SQLite takes executemany of the rows' values, each column's bind processing applied to each value
(SQLAlchemy's insert of a list of dicts builds every row's parameters again through its compiled
statement: 10 of the 14 s that half a million case findings took to insert), or, for the ids of a
serial key, SQLAlchemy's insert with RETURNING. PostgreSQL takes COPY: SQLAlchemy's
"insertmanyvalues" writes one INSERT of a thousand rows' parameters at a time, which psycopg parses in
Python and the server plans, and with RETURNING it merges every page's ids again; on a month of a
million events that put the orders, appointments, documents and encounters at twice SQLite's time
(bench/policy.py --database-url). Ids a caller needs back are drawn from the table's sequence first,
in ascending order as RETURNING gave them, and written with the rows.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

_BATCH = 10_000  # rows bound per executemany on SQLite


def insert_rows(session: Session, model, rows: list[dict], *, ids: bool = False) -> list[int]:
    """Insert `rows` (dicts keyed by `model`'s attributes, every row with the same keys) into
    `model`'s table; with `ids`, the generated ids of the rows in their order (else []). With `ids`
    the table's key is a serial column named `id`; a column the rows leave out gets its scalar
    Python-side default (a callable default is not run: no table written here has one)."""
    if not rows:
        return []
    conn = session.connection()
    keys = list(rows[0])
    direct = conn.dialect.driver == "psycopg" or (conn.dialect.name == "sqlite" and not ids)
    if not direct or any(len(r) != len(keys) or r.keys() != rows[0].keys() for r in rows):
        if ids:
            return list(session.execute(insert(model).returning(model.id, sort_by_parameter_order=True), rows).scalars())
        session.execute(insert(model), rows)
        return []
    table, dialect = model.__table__, conn.dialect
    columns = [model.__mapper__.columns[k] for k in keys]
    # what SQLAlchemy's insert would have added: a Python-side default of a column the rows leave out
    defaults = [c for c in table.columns if c.key not in rows[0] and c.default is not None and c.default.is_scalar]
    made: list[int] = []
    if ids:
        sequence = conn.exec_driver_sql("SELECT pg_get_serial_sequence(%s, 'id')", (table.fullname,)).scalar_one()
        made = sorted(conn.exec_driver_sql("SELECT nextval(%s) FROM generate_series(1, %s)",
                                           (sequence, len(rows))).scalars())
        columns.insert(0, table.c.id)
    processors = [c.type.bind_processor(dialect) for c in columns]
    fixed = tuple(c.default.arg for c in defaults)
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c.name) for c in [*columns, *defaults])
    if dialect.name == "sqlite":
        marks = ", ".join(["?"] * (len(columns) + len(defaults)))
        statement = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) VALUES ({marks})"
        for i in range(0, len(rows), _BATCH):  # a batch's tuples at a time, not a copy of every row
            conn.exec_driver_sql(statement, [_values(row, keys, processors, fixed) for row in rows[i : i + _BATCH]])
        return []
    statement = f"COPY {dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN"
    by_key = processors[1:] if ids else processors  # the id column's (an integer's: none) is not needed
    with copying(conn, statement) as copy:
        for i, row in enumerate(rows):
            values = _values(row, keys, by_key, fixed)
            copy.write_row((made[i], *values) if ids else values)
    return made


def _values(row: dict, keys: list[str], processors: list, fixed: tuple) -> tuple:
    return (*[p(row[k]) if p is not None else row[k] for k, p in zip(keys, processors)], *fixed)


@contextmanager
def copying(conn: Connection, statement: str, types: list[str] | None = None) -> Iterator:
    """psycopg's COPY FROM STDIN on `conn`'s own DB-API connection (so in its transaction); a refusal
    (a duplicate key, a value too long) raised as SQLAlchemy's error for it, as an INSERT's would be,
    so the gateway's handling of storage errors applies."""
    dbapi = conn.connection.driver_connection
    cursor = dbapi.cursor()
    try:
        with cursor.copy(statement) as copy:
            if types:
                copy.set_types(types)
            yield copy
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()

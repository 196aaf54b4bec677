"""Rows whose key is among many: what makes a load idempotent (the batch's source ids already
loaded) and what maps a batch's keys to ids (MRN blind indexes, user ids).

SQLite takes them as IN lists of at most 900 bound values (its limit on variables). PostgreSQL takes
one array, `key = ANY(:keys)`: an IN list of 900 separate parameters, once psycopg prepares the
statement (its fifth run), gets a generic plan that compares each row with the 900 values one by
one, and a table filled by this very ingest has no statistics yet to steer it to its index. On a
month of a million events the orders', documents' and encounters' duplicate checks took 0.6 s a
batch that way, 35 s of the ingest; with the array, 3 ms (bench/policy.py --database-url).
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

from sqlalchemy import Select, String, Text, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

SQLITE_CHUNK = 900
ARRAY_CHUNK = 50_000  # keys per PostgreSQL array: a bounded statement whatever the batch


def among(session: Session, statement: Select, column, keys: Iterable) -> Iterator[Row]:
    """The rows of `statement` whose `column` is one of `keys` (a statement with no WHERE on it)."""
    keys = list(keys)
    array = session.get_bind().dialect.name == "postgresql"
    step = ARRAY_CHUNK if array else SQLITE_CHUNK
    for i in range(0, len(keys), step):
        part = keys[i : i + step]
        where = column == any_(bindparam(None, part, type_=ARRAY(_element(column)))) if array else column.in_(part)
        yield from session.execute(statement.where(where))


def _element(column):
    """The array's element type: text for any string column (a VARCHAR(n)[] cast would cut a longer
    key down to n characters, and a collation cannot be cast to), else the column's own type."""
    return Text() if isinstance(column.type, String) else column.type


def loaded(session: Session, model, records: Sequence) -> set[tuple[str, str]]:
    """(source, source id) of those of `records` (each with .source and .source_id) already in
    `model`'s table: looked up by id, not every row of the source (which made each batch of a big
    file slower than the one before)."""
    seen: set[tuple[str, str]] = set()
    for source in sorted({r.source for r in records}):
        ids = sorted({r.source_id for r in records if r.source == source and r.source_id is not None})
        seen |= {(source, sid) for (sid,) in among(session, select(model.source_id).where(model.source == source),
                                                   model.source_id, ids)}
    return seen

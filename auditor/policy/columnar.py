"""Reading a SQLite vault's tables straight into columns (Apache Arrow, through the ADBC SQLite driver)
for the engine: a month of a large hospital is ten million events, and building one Python object per
value through the DB-API is most of what reading them would cost.

All the frames are read in one read transaction of one connection, so events, people and encounters
are as of one moment (WAL: the read blocks no writer). SQLite's values carry no declared type and the
driver infers each column's type from its first rows, so a text column that may begin with NULLs is
read as ifnull(column, '') and '' is turned back into a missing value here; the engine never stores
an empty string for a known value (ingest reads "" as unknown).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, Select
from sqlalchemy.engine import make_url

try:  # the driver is a dependency; a missing one falls back to the DB-API reader (auditor.policy.frames)
    import adbc_driver_sqlite.dbapi as adbc_sqlite
except ImportError:  # pragma: no cover
    adbc_sqlite = None

BATCH_ROWS = "adbc.sqlite.query.batch_rows"  # rows per batch, and rows the driver infers types from
_INT_TYPES = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype()}  # exact: float64 would lose 63-bit ids


def sqlite_file(records: Engine) -> Path | None:
    """The database file of a SQLite engine when the columnar reader can read it, else None."""
    url = make_url(str(records.url))
    if adbc_sqlite is None or url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _sql(records: Engine, stmt: Select) -> tuple[str, list[str]]:
    """The statement as SQLite text (literal values: ids, times and flags only, never PHI), each text
    column wrapped in ifnull(.., '') so that the driver types it as text; returns (sql, text columns)."""
    columns = list(stmt.selected_columns)
    text = [c.name for c in columns if not _is_number(c)]
    compiled = stmt.compile(dialect=records.dialect, compile_kwargs={"literal_binds": True})
    inner = str(compiled)
    outer = ", ".join(f"ifnull(q.{c.name}, '') AS {c.name}" if c.name in text else f"q.{c.name}" for c in columns)
    return f"SELECT {outer} FROM ({inner}) AS q", text


def _is_number(column) -> bool:
    """Integers and flags keep their type; text, dates (ISO text in SQLite) and the rest are text."""
    try:
        return column.type.python_type in (int, bool, float)
    except NotImplementedError:
        return False


def _column(table: pa.Table, name: str, text: bool) -> pa.ChunkedArray:
    values = table.column(name)
    if text and not pa.types.is_string(values.type):  # no rows to infer from: the driver said int64
        values = pa.chunked_array([pa.array([None] * len(values), pa.string())])
    if text:
        values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
    return values


def read_frames(path: Path, records: Engine, statements: dict[str, Select],
                typed: dict[str, Callable[[pd.DataFrame], pd.DataFrame]], chunk_rows: int = 500_000,
                ) -> dict[str, list[pd.DataFrame]]:
    """Each statement's rows, typed by `typed[name]` a chunk of about `chunk_rows` rows at a time (the
    untyped columns of a whole month never sit in memory at once), all read in one snapshot. The
    frames given to `typed` hold integers as Int64, text as Arrow-backed strings with missing values
    and flags as 0/1 integers."""
    out: dict[str, list[pd.DataFrame]] = {}
    conn = adbc_sqlite.connect(f"file:{path}?mode=ro", autocommit=False)  # one read transaction for all
    try:
        cursor = conn.cursor()
        try:
            cursor.adbc_statement.set_options(**{BATCH_ROWS: str(min(chunk_rows, 65_536))})
            for name, stmt in statements.items():
                sql, text = _sql(records, stmt)
                cursor.execute(sql)
                out[name] = list(_typed_chunks(cursor.fetch_record_batch(), text, typed[name], chunk_rows))
        finally:
            cursor.close()
        conn.rollback()
    finally:
        conn.close()
    return out


def _typed_chunks(reader: pa.RecordBatchReader, text: list[str], typed, chunk_rows: int) -> Iterator[pd.DataFrame]:
    pending, rows, seen = [], 0, False
    for batch in reader:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= chunk_rows:
            yield typed(_pandas(pa.Table.from_batches(pending), text))
            pending, rows, seen = [], 0, True
    if pending or not seen:
        yield typed(_pandas(pa.Table.from_batches(pending, schema=reader.schema), text))


def _pandas(table: pa.Table, text: list[str]) -> pd.DataFrame:
    columns = {c: _column(table, c, c in text) for c in table.column_names}
    return pa.table(columns).to_pandas(types_mapper=_types, self_destruct=True)


def _types(arrow_type: pa.DataType):
    if arrow_type in _INT_TYPES:
        return _INT_TYPES[arrow_type]
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow")
    return None

"""Typed pandas frames of what the engine computes on, read with SQLAlchemy Core selects (and typed by
auditor.policy.typed_frames).

Only clear columns are read: ids, roles, departments, dates, shifts, flags, times and the blind
indexes (`*_bidx`). Nothing is decrypted; identity matching compares blind indexes. Times are
timezone-aware UTC timestamps; days are local days in the organisation's time zone (Period.tz).
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Iterator
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import union_categoricals
from sqlalchemy import BigInteger, Connection, Engine, func, or_, select, type_coerce

from auditor.audit import blocks
from auditor.audit.schema import AuditEventRow
from auditor.database import read_snapshot, server_cursor_rows
from auditor.policy.peer_groups import PeersElsewhere
from auditor.policy.typed_frames import (APPOINTMENT_COLUMNS, AUTHORED_COLUMNS, IDENTITIES, ORDER_COLUMNS, empty_frame,
                                         typed_appointments, typed_authored, typed_care_team, typed_case_patients,
                                         typed_encounters, typed_events, typed_orders, typed_patients, typed_workforce)
from auditor.vault.gateway.context import OWN_SOURCE, SERVICE_ROLE
from auditor.vault.records import (Appointment, AuthoredDocument, CareTeamMember, CaseFinding, Encounter, Order, Patient,
                                   WorkforceMember)

if TYPE_CHECKING:  # it imports run_starts from here
    from auditor.policy.explanation_windows import ExplanationWindows


@dataclass(frozen=True)
class Period:
    """Inclusive local dates in the organisation's time zone."""

    first_day: date
    last_day: date
    tz: ZoneInfo

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(datetime.combine(self.first_day, time(0), self.tz)).tz_convert("UTC")

    @property
    def end(self) -> pd.Timestamp:
        """Exclusive: the first instant of the day after `last_day`."""
        return pd.Timestamp(datetime.combine(self.last_day + timedelta(days=1), time(0), self.tz)).tz_convert("UTC")


@dataclass
class Frames:
    events: pd.DataFrame  # every source, the period plus the rules' lookback
    workforce: pd.DataFrame
    patients: pd.DataFrame
    encounters: pd.DataFrame
    care_team: pd.DataFrame
    period: Period
    # blocks of the log whose header seal did not verify: read by their events' own times, not their
    # header's; anyone who reads these frames should say the log needs `auditor audit verify`
    unsealed_blocks: list = field(default_factory=list)
    # the patients named in the privacy office's cases, and since when (the explanation "case review")
    case_patients: pd.DataFrame = field(default_factory=lambda: typed_case_patients(pd.DataFrame(
        {"patient_id": [], "since": []}, dtype=object)))
    # contract version 2 (explanations 5 to 7): orders, appointments, and who wrote in the chart
    orders: pd.DataFrame = field(default_factory=lambda: typed_orders(empty_frame(ORDER_COLUMNS)))
    appointments: pd.DataFrame = field(default_factory=lambda: typed_appointments(empty_frame(APPOINTMENT_COLUMNS)))
    authored: pd.DataFrame = field(default_factory=lambda: typed_authored(empty_frame(AUTHORED_COLUMNS)))
    # a partition holding the small peer groups of a role judged in parts: the role's other users
    # (auditor.cluster.peer_group_split); None: these frames hold every user of their roles
    peers_elsewhere: PeersElsewhere | None = None
    # the explanations' windows of the month's context, made once when the month is judged in partitions
    # (auditor.cluster.local_partitions); None: build_context makes them of these frames' own tables
    explanation_windows: ExplanationWindows | None = None


def service_work(events: pd.DataFrame) -> pd.Series:
    """The vault's own service events (svc:import, svc:report, ...): source "vault" and role "service",
    both written by the gateway's code. Never a user id's prefix: an EHR row is its own user's."""
    return (events["source"] == OWN_SOURCE) & (events["event_role"] == SERVICE_ROLE)


def row_positions(keys: pd.Series, table: pd.DataFrame, on: str) -> tuple[pd.DataFrame, np.ndarray]:
    """`table` without repeated keys, and the position in it of the row each key names (-1: none).
    The keys are factorised first (Arrow's dictionary encoding for text): a month's ten million user
    ids are a few thousand distinct ones, each looked up once, and no Python string is made per key."""
    table = table.drop_duplicates(on)
    codes, distinct = pd.factorize(keys)
    found = pd.Index(table[on]).get_indexer(distinct)
    return table, np.where(codes >= 0, found[np.maximum(codes, 0)] if len(found) else -1, -1)


def taken(table: pd.DataFrame, at: np.ndarray, columns: list[str], index: pd.Index) -> pd.DataFrame:
    """`columns` of the rows at positions `at` of `table` (-1: missing values); flags as nullable booleans."""
    found = {c: (table[c].astype("boolean") if table[c].dtype == bool else table[c]).array.take(at, allow_fill=True)
             for c in columns}
    return pd.DataFrame(found, index=index)


def run_starts(values: np.ndarray) -> np.ndarray:
    """For a sorted array: True where a value differs from the one before (the first of each run)."""
    return np.r_[True, values[1:] != values[:-1]] if len(values) else np.zeros(0, dtype=bool)


def distinct(values: np.ndarray) -> np.ndarray:
    """np.unique(values) for integers, by sorting: numpy 2's np.unique hashes them instead, and on a
    month's ten million accesses with a few million distinct values that took 11.6 s where a sort
    takes 0.8 s."""
    ordered = np.sort(values)
    return ordered[run_starts(ordered)]


def columns_for(keys: pd.Series, table: pd.DataFrame, on: str, columns: list[str]) -> pd.DataFrame:
    """`columns` of the `table` row whose `on` equals each key, missing where none does, on the keys'
    index: a left join on a unique key by position (one hash lookup per key), without the copies a
    merge of ten million rows makes."""
    table, at = row_positions(keys, table, on)
    return taken(table, at, columns, keys.index)


CONTEXT_CHUNK = 100_000  # context rows (workforce, patients, encounters, ...) fetched at a time on PostgreSQL


def read_frame(conn: Connection, stmt, chunk: int = CONTEXT_CHUNK) -> pd.DataFrame:
    """Rows as object columns first: 64-bit ids and blind indexes with NULLs among them would lose
    their low bits as float64; the typed_* functions then give each column its exact type. On SQLite
    the rows come straight from the DB-API cursor as plain tuples (the columns read here need no result
    processing: integers, text, booleans, ISO dates), which pandas takes ten times faster than Rows.
    On PostgreSQL psycopg's ordinary cursor would hold the whole result, then the tuples and the frame
    copy it again: there the rows come through a server-side cursor `chunk` at a time, as the events'
    do, and the object chunks are joined column by column (memory: the frame plus one chunk)."""
    if conn.dialect.name == "postgresql":
        return concat_events(list(_streamed_rows(conn, stmt, chunk)))
    result = conn.execute(stmt)
    columns = list(result.keys())
    rows = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    return pd.DataFrame(rows, columns=columns, dtype=object)


EVENT_CHUNK = 500_000  # events typed at a time: the untyped rows of a whole month never sit in memory at once


def read_events_frame(conn: Connection, stmt, chunk: int = EVENT_CHUNK) -> list[pd.DataFrame]:
    """The events, typed chunk by chunk (memory: the typed month plus one untyped chunk). These are the
    log's row-stored events (imported ones are read block by block): the vault's own, and on a vault
    reviewed before 2896f6a each of a review's directory reads (2.25 million a month at 60 million
    events). On SQLite the rows come straight off the DB-API cursor. On PostgreSQL psycopg's ordinary
    cursor would hold the whole result before the first row is typed, so there they come through a
    server-side cursor, `chunk` rows at a time (_streamed_rows)."""
    if conn.dialect.name == "postgresql":
        return [typed_events(rows) for rows in _streamed_rows(conn, stmt, chunk)]
    result = conn.execute(stmt)
    columns, cursor = list(result.keys()), result.cursor
    chunks = []
    while cursor is not None:
        rows = cursor.fetchmany(chunk)
        chunks.append(typed_events(pd.DataFrame(rows, columns=columns, dtype=object)))
        if len(rows) < chunk:
            break
    result.close()
    return chunks


def _streamed_rows(conn: Connection, stmt, chunk: int) -> Iterator[pd.DataFrame]:
    """On PostgreSQL, the rows of `stmt` as object frames of `chunk` rows (at least one: an empty
    result's, with its columns), through psycopg's own named cursor (database.server_cursor_rows). The
    statement is compiled by the connection's dialect, lists rendered (the columns read here are
    integers, text, booleans and dates: no bind or result processing changes a value)."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    with closing(server_cursor_rows(conn, str(compiled), compiled.params, chunk)) as batches:  # closed with this one
        for columns, rows in batches:
            yield pd.DataFrame(rows, columns=columns, dtype=object)


def concat_events(chunks: list[pd.DataFrame]) -> pd.DataFrame:
    """Typed chunks (or read_frame's object ones) as one frame; a category column whose categories
    differ chunk to chunk gets their union (codes remapped, no string built per event). The chunks are
    consumed column by column (each column leaves them as it is joined), so the month is held once,
    not twice: `chunks` is emptied."""
    if len(chunks) == 1:
        return chunks.pop()
    columns = {}
    for name in list(chunks[0].columns):
        parts = [c.pop(name) for c in chunks]
        if isinstance(parts[0].dtype, pd.CategoricalDtype) and any(p.dtype != parts[0].dtype for p in parts):
            columns[name] = pd.Series(union_categoricals(parts, sort_categories=True))
        else:
            columns[name] = pd.concat(parts, ignore_index=True)
        del parts
    chunks.clear()
    return pd.DataFrame(columns, copy=False)


def in_sequence(events: pd.DataFrame) -> pd.DataFrame:
    """`events` in sequence order, column by column (each leaves `events` as it is put in order, so
    the month is held once, not twice: `events` is emptied)."""
    order = np.argsort(events["seq"].to_numpy(), kind="stable")
    columns = {}
    for name in list(events.columns):
        columns[name] = pd.Series(events.pop(name).array.take(order), name=name)
    return pd.DataFrame(columns, copy=False)


def _only(column, patient_id) -> tuple:
    """No condition (None), one patient, or a set of patients."""
    if patient_id is None:
        return ()
    return (column.in_(sorted(patient_id)),) if isinstance(patient_id, (set, frozenset)) else (column == patient_id,)


def microseconds(ts: pd.Timestamp) -> int:
    return int(ts.value // 1000)


def frame_statements(period: Period, lookback: timedelta, explanation_reach: timedelta,
                patient_id: int | frozenset[int] | None, user_id: str | None = None) -> dict[str, object]:
    """The frames' statements; `patient_id` one patient or a set (then the patients' rows are only
    theirs too), `user_id` one user's events."""
    first, last = microseconds(period.start - lookback), microseconds(period.end)
    reach = microseconds(period.start - explanation_reach), microseconds(period.end + explanation_reach)
    E, W, P, C, T, F = AuditEventRow, WorkforceMember, Patient, Encounter, CareTeamMember, CaseFinding
    O, A, D = Order, Appointment, AuthoredDocument
    start, end = type_coerce(C.start, BigInteger), type_coerce(C.end, BigInteger)
    t_start, t_end = type_coerce(T.start, BigInteger), type_coerce(T.end, BigInteger)
    return {
        "events": select(
            E.seq, E.at_us, E.source, E.source_event_id, E.user_id, E.role, E.action, E.patient_id,
            E.record_type, E.outcome, E.purpose, E.break_glass, E.reason.is_not(None).label("has_reason"),
        ).where(E.at_us >= first, E.at_us < last, *_only(E.patient_id, patient_id),
                *(() if user_id is None else (E.user_id == user_id,))).order_by(E.seq),
        "workforce": select(
            W.id.label("workforce_id"), W.user_id, W.role, W.department, W.hire_date, W.termination_date,
            W.shift_start, W.shift_end, W.patient_id.label("own_patient_id"),
            *(getattr(W, f"{name}_bidx").label(name) for name in IDENTITIES)),
        "patients": select(
            P.id.label("patient_id"), P.vip, P.restricted, P.deceased_on,
            *(getattr(P, f"{name}_bidx").label(name) for name in IDENTITIES),
        ).where(*(_only(P.id, patient_id) if isinstance(patient_id, frozenset) else ())),
        "encounters": select(
            C.patient_id, C.department, C.attending_id, start.label("start"), end.label("end"),
        ).where(start <= reach[1], end >= reach[0], *_only(C.patient_id, patient_id)),
        "care_team": select(
            T.patient_id, T.workforce_id, t_start.label("start"), t_end.label("end"),
        ).where(t_start <= last, or_(T.end.is_(None), t_end >= first), *_only(T.patient_id, patient_id)),
        # contract version 2: each row whose window (explanations 5 to 7) can reach the period
        "orders": select(
            O.patient_id, O.ordering_id, O.performing_department, O.type, _micros(O.placed_at).label("placed_at"),
            _micros(O.completed_at).label("completed_at"),
        ).where(_micros(O.placed_at) <= reach[1], func.coalesce(_micros(O.completed_at), _micros(O.placed_at)) >= reach[0],
                *_only(O.patient_id, patient_id)),
        "appointments": select(
            A.patient_id, A.provider_id, A.department, A.status, _micros(A.booked_at).label("booked_at"),
            _micros(A.scheduled_for).label("scheduled_for"),
        ).where(_micros(A.booked_at) <= reach[1], _micros(A.scheduled_for) >= reach[0], *_only(A.patient_id, patient_id)),
        "authored": select(
            D.patient_id, D.author_id, D.record_type, _micros(D.signed_at).label("signed_at"),
        ).where(_micros(D.signed_at) >= reach[0], _micros(D.signed_at) <= reach[1], *_only(D.patient_id, patient_id)),
        # clear columns of the office's cases: which patients a finding named, and when it was recorded
        "case_patients": select(
            F.patient_id, func.min(type_coerce(F.added_at, BigInteger)).label("since"),
        ).where(F.patient_id.is_not(None), type_coerce(F.added_at, BigInteger) < last,
                *_only(F.patient_id, patient_id)).group_by(F.patient_id),
    }


def _micros(column):
    """A UTCDateTime column as the integer microseconds it stores (compared and read without conversion)."""
    return type_coerce(column, BigInteger)


_BLOCK_COLUMNS = ["seq", "at_us", "source", "source_event_id", "user_id", "role", "action", "patient_id",
                  "record_type", "outcome", "purpose", "break_glass"]


def read_block_events(conn: Connection, windows: list[tuple[int, int]], patient_id: int | None,
                      mac_key: bytes | None, reading: blocks.BlockReading, chunk: int = EVENT_CHUNK,
                      user_id: str | None = None) -> list[pd.DataFrame]:
    """The events stored in blocks (auditor.audit.blocks) within `windows` (UTC microseconds, each end
    exclusive), decoded column by column and typed a chunk at a time, like the rows. A block is
    passed over by its header only when the header's seal verifies under `mac_key`. `patient_id`,
    `user_id`: only that patient's, that user's events."""
    chunks, pending, held = [], [], 0
    for kept in blocks.events_within(conn, windows, mac_key, reading):
        if patient_id is not None:
            kept = kept.filter(pc.fill_null(pc.equal(kept["patient_id"], patient_id), False))
        if user_id is not None:
            kept = kept.filter(pc.fill_null(pc.equal(kept["user_id"], user_id), False))
        pending.append(kept.select(_BLOCK_COLUMNS).append_column("has_reason", pc.is_valid(kept["reason"])))
        held += kept.num_rows
        if held >= chunk:
            chunks.append(_typed_block_events(pending))
            pending, held = [], 0
    if held:
        chunks.append(_typed_block_events(pending))
    return chunks


_CODED = ("source", "role", "action", "record_type", "outcome", "purpose")  # a few distinct values each


def _typed_block_events(tables: list[pa.Table]) -> pd.DataFrame:
    # the few-valued text columns dictionary-encoded by Arrow (pandas gets categoricals, not strings);
    # integers as nullable Int64: a float64 column with NULLs among 63-bit ids would lose their low bits
    table = pa.concat_tables(tables)
    for name in _CODED:
        at = table.schema.get_field_index(name)
        table = table.set_column(at, name, table.column(name).combine_chunks().dictionary_encode())
    return typed_events(table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))


def _read_rows(records: Engine, statements: dict, window: tuple[int, int], patient_id: int | None,
               mac_key: bytes | None, reading: blocks.BlockReading) -> dict[str, pd.DataFrame]:
    """The context, typed, and the events, through the DB-API, in one snapshot. (Not through a second
    SQLite library such as ADBC's: two copies of SQLite in one process release each other's POSIX
    locks, and a WAL another process then checkpoints away loses committed audit events.)"""
    with records.connect() as conn:
        read_snapshot(conn)  # events, people and encounters as of one moment; blocks no writer
        # each table typed as it is read: its untyped rows (Python objects, several times its typed
        # size) go before the next table's, and before the events are read
        raw = {name: _CONTEXT_TYPES[name](read_frame(conn, stmt)) for name, stmt in statements.items()
               if name != "events"}
        chunks = [c for c in read_events_frame(conn, statements["events"]) if len(c)]
        rows = len(chunks)
        chunks += read_block_events(conn, [window], patient_id, mac_key, reading)
        stored = len(chunks) > rows
        events = concat_events(chunks) if chunks else typed_events(empty_events())
        if rows and stored:  # rows and blocks interleave: in sequence order, as the log is
            events = in_sequence(events)
        raw["events"] = events
        return raw


def empty_events() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=object) for name in [*_BLOCK_COLUMNS, "has_reason"]})


def load_frames(records: Engine, period: Period, lookback: timedelta = timedelta(0),
                explanation_reach: timedelta = timedelta(days=90), patient_id: int | None = None,
                log_key: bytes | None = None) -> Frames:
    """Read the frames for `period` (events from `lookback` before it; encounters, orders, appointments
    and signed documents reaching it within `explanation_reach`, the widest explanation window) in one
    read transaction. With `patient_id`, only that patient's events, encounters, care team and care
    activity (a patient's access report: explanations hold, the rules that count across patients do
    not). `log_key`: the keyring's log MAC key, which lets blocks of the log outside the window be
    passed over by their sealed headers (without it, every block is decoded and filtered by its
    events' own times)."""
    window = microseconds(period.start - lookback), microseconds(period.end)
    reading = blocks.BlockReading([])
    raw = _read_rows(records, frame_statements(period, lookback, explanation_reach, patient_id), window, patient_id,
                     log_key, reading)
    unsealed = reading.unsealed if log_key is not None else []
    return Frames(raw["events"], raw["workforce"], raw["patients"], raw["encounters"], raw["care_team"], period,
                  unsealed, raw["case_patients"], orders=raw["orders"], appointments=raw["appointments"],
                  authored=raw["authored"])


_CONTEXT_TYPES = {"workforce": typed_workforce, "patients": typed_patients, "encounters": typed_encounters,
                  "care_team": typed_care_team, "case_patients": typed_case_patients, "orders": typed_orders,
                  "appointments": typed_appointments, "authored": typed_authored}


def care_activity(raw: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The version-2 frames (orders, appointments, authored) of rows read by frame_statements."""
    return {"orders": typed_orders(raw["orders"]), "appointments": typed_appointments(raw["appointments"]),
            "authored": typed_authored(raw["authored"])}

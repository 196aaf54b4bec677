"""A month of events read and typed in chunks (the memory bound of load_frames) is the month read at
once, also when the chunks' categories differ and when a text column's first values are all NULL; the
context tables read in chunks on PostgreSQL are the tables read at once."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pandas as pd

from auditor.audit.events import AuditEvent
from auditor.database import read_snapshot
from auditor.policy.frames import Period, concat_events, frame_statements, read_events_frame, read_frame
from auditor.vault.settings import organisation_timezone
from tests.cursors import cursor_classes, last_on_server
from tests.policy.vault_data import populate


def _denied_logins(vault, count: int) -> None:
    """`count` vault events with no user, source event id, record type, purpose or patient."""
    start = datetime(2026, 11, 2, 0, tzinfo=timezone.utc)
    events = [AuditEvent(at=start + timedelta(seconds=i), action="login_failed", user_id=None, outcome="denied")
              for i in range(count)]
    with vault.records.begin() as conn:
        appended = vault.audit_log.append(conn, events)
    vault.audit_log.after_commit(appended, len(events))


def _read(vault, stmt, chunk: int) -> list[pd.DataFrame]:
    with vault.records.connect() as conn:
        read_snapshot(conn)
        return read_events_frame(conn, stmt, chunk)


def test_events_typed_in_chunks_are_the_month_read_at_once(vault, policy):
    _denied_logins(vault, 2500)
    ids = populate(vault)
    period = Period(date(2026, 11, 1), date(2026, 11, 30), organisation_timezone(vault.records))
    stmt = frame_statements(period, policy.lookback(), timedelta(days=90), None)["events"]
    chunks = _read(vault, stmt, 700)
    assert len(chunks) >= 4 and len({tuple(c["event_role"].cat.categories) for c in chunks}) > 1
    whole = concat_events(_read(vault, stmt, 1_000_000))
    pd.testing.assert_frame_equal(concat_events(chunks), whole)
    ehr = whole.loc[whole["source"].astype("string") == "ehr", "event_ref"]
    assert ehr.iloc[-1] == "ehr-4" and whole["user_id"].isna().sum() == 2500
    assert set(whole["patient_id"].dropna().astype("int64")) <= set(ids.values())  # 63-bit ids exact


def test_on_postgresql_the_events_come_through_a_server_side_cursor_a_chunk_at_a_time(vault, policy, backend):
    """psycopg's ordinary cursor holds a whole result before the first row is read: a month of row
    events would sit in memory twice. On PostgreSQL the events statement runs on a server-side cursor
    (a named cursor of psycopg's own, fetching `chunk` rows at a time); SQLite reads its own cursor as before.
    Either way every event is read, the first one included."""
    _denied_logins(vault, 1500)
    period = Period(date(2026, 11, 1), date(2026, 11, 30), ZoneInfo("America/New_York"))
    stmt = frame_statements(period, policy.lookback(), timedelta(days=90), None)["events"]
    with vault.records.connect() as conn, cursor_classes(conn, lambda sql: "FROM audit_events" in sql) as cursors:
        read_snapshot(conn)
        chunks = read_events_frame(conn, stmt, 400)
        last = last_on_server(conn) if backend == "postgres" else None
    if backend == "postgres":  # a named cursor of psycopg's own: the server ran DECLARE, FETCHes and this
        assert re.fullmatch(r'CLOSE "auditor_rows_\d+"', last) and cursors == []
    else:
        assert cursors == ["Cursor"]
    assert [len(c) for c in chunks[:-1]] == [400] * (len(chunks) - 1) and len(chunks) >= 4
    with vault.records.connect() as conn:
        expected = [row.seq for row in conn.execute(stmt)]  # the 1500 and the vault's own first events
    assert len(expected) >= 1500 and [len(c) for c in chunks[:-1]] == [400] * (len(chunks) - 1)
    assert concat_events(chunks)["seq"].tolist() == expected  # every event, the first one included


def test_the_context_read_after_the_events_on_the_same_connection_loses_no_row(vault, policy):
    """A member's timeline and a review's edge hours read the events, then the context, on one
    connection (auditor.policy.member_frames). Streaming the events must not leave that connection
    streaming: the context's reads take the DB-API cursor's rows, and a streamed result keeps the first
    one in a buffer of its own (each table lost its first row)."""
    populate(vault)
    period = Period(date(2026, 11, 1), date(2026, 11, 30), ZoneInfo("America/New_York"))
    statements = frame_statements(period, policy.lookback(), timedelta(days=90), None)
    with vault.records.connect() as conn:
        read_snapshot(conn)
        alone = {name: read_frame(conn, stmt) for name, stmt in statements.items() if name != "events"}
    with vault.records.connect() as conn:
        read_snapshot(conn)
        read_events_frame(conn, statements["events"], 2)
        after = {name: read_frame(conn, stmt) for name, stmt in statements.items() if name != "events"}
        assert not conn.get_execution_options().get("stream_results")
    assert all(len(alone[name]) for name in ("workforce", "patients", "encounters"))
    for name, frame in alone.items():
        pd.testing.assert_frame_equal(after[name], frame)


def _context(policy) -> dict[str, object]:
    period = Period(date(2026, 11, 1), date(2026, 11, 30), ZoneInfo("America/New_York"))
    statements = frame_statements(period, policy.lookback(), timedelta(days=90), None)
    return {name: stmt for name, stmt in statements.items() if name != "events"}


def _fetched_at_once(conn, stmt) -> pd.DataFrame:
    """The rows as read_frame read them before it streamed: the DB-API cursor's fetchall."""
    result = conn.execute(stmt)
    rows = result.cursor.fetchall()
    result.close()
    return pd.DataFrame(rows, columns=list(stmt.selected_columns.keys()), dtype=object)


def test_on_postgresql_the_context_comes_through_a_server_side_cursor(vault, policy, backend):
    """psycopg's ordinary cursor holds a whole result before its first row is read, then the rows and the
    frame copy it again. On PostgreSQL each context table is read through a server-side cursor (a named
    cursor of psycopg's own); SQLite reads its own cursor as before."""
    populate(vault)
    statements = _context(policy)
    frames, closed = {}, []
    with vault.records.connect() as conn:
        read_snapshot(conn)
        with cursor_classes(conn, lambda sql: sql.startswith("SELECT")) as cursors:  # not SQLite's BEGIN
            for name, stmt in statements.items():
                frames[name] = read_frame(conn, stmt)
                closed += [last_on_server(conn)] if backend == "postgres" else []
    if backend == "postgres":  # each table a named cursor of its own, closed once read
        assert all(re.fullmatch(r'CLOSE "auditor_rows_\d+"', q) for q in closed) and len(set(closed)) == len(statements)
        assert cursors == []
    else:
        assert cursors == ["Cursor"] * len(statements)
    assert len(frames["workforce"]) == 2 and len(frames["patients"]) == 4


def test_the_context_read_a_few_rows_at_a_time_is_the_context_fetched_at_once(vault, policy):
    """Chunks of one and of three rows (several per table) joined: every row, in order, each value exact
    in an object column (a NULL among 63-bit ids stays None, the ids ints), and a table with no row
    still has its columns."""
    ids = populate(vault)
    statements = _context(policy)
    with vault.records.connect() as conn:
        read_snapshot(conn)
        whole = {name: _fetched_at_once(conn, stmt) for name, stmt in statements.items()}
        for chunk in (1, 3):
            for name, stmt in statements.items():
                frame = read_frame(conn, stmt, chunk)
                pd.testing.assert_frame_equal(frame, whole[name], check_exact=True)
                assert frame.to_dict("list") == whole[name].to_dict("list")  # ints compared as ints, None as None
                assert (frame.dtypes == object).all() and list(frame.columns) == list(stmt.selected_columns.keys())
    own = whole["workforce"]["own_patient_id"].tolist()
    assert None in own and ids["P-COW"] in own and ids["P-COW"] > 2**53  # float64 would lose its low bits
    assert len(whole["patients"]) == 4 and len(whole["encounters"]) == 1
    orders = ["patient_id", "ordering_id", "performing_department", "type", "placed_at", "completed_at"]
    assert len(whole["orders"]) == 0 and list(whole["orders"].columns) == orders  # no row, its columns kept


def test_a_read_after_the_context_on_the_same_connection_loses_no_row(vault, policy):
    """The context's server-side cursor is the statement's own: the connection's next read takes the
    DB-API cursor's rows whole, its first row included (a connection left streaming would keep that row
    in a buffer of its own)."""
    populate(vault)
    statements = _context(policy)
    with vault.records.connect() as conn:
        alone = _fetched_at_once(conn, statements["patients"])
    with vault.records.connect() as conn:
        read_snapshot(conn)
        read_frame(conn, statements["workforce"], 1)
        assert not conn.get_execution_options().get("stream_results")
        after = _fetched_at_once(conn, statements["patients"])
        again = read_frame(conn, statements["patients"])
    assert len(alone) == 4
    pd.testing.assert_frame_equal(after, alone)
    pd.testing.assert_frame_equal(again, alone)

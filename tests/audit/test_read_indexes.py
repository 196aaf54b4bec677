"""Reading a window of the log does not walk the log (r0016): SQLite answers the block headers from
their covering index (a header_seal added after the blobs would otherwise be read through every
block's overflow pages), and a member's events kept as rows by the index of user and time."""

from __future__ import annotations

from sqlalchemy import select

from auditor.audit import blocks
from auditor.audit.schema import AuditEventRow


def _plan(vault, statement) -> str:
    compiled = statement.compile(vault.records, compile_kwargs={"literal_binds": True})
    with vault.records.connect() as conn:
        return " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))


def test_the_block_headers_are_read_from_their_covering_index(sqlite_vault):
    statement = select(*blocks._HEADER).order_by(blocks.BLOCKS.c.first_seq)
    assert "COVERING INDEX ix_audit_event_blocks_header" in _plan(sqlite_vault, statement)


def test_a_members_events_in_a_window_are_found_by_user_and_time(sqlite_vault):
    E = AuditEventRow
    statement = select(E.seq).where(E.user_id == "n.muller", E.at_us >= 1, E.at_us < 2)
    assert "ix_audit_events_user_at" in _plan(sqlite_vault, statement)

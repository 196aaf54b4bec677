"""The ledger's row digests (auditor.vault.ledger): written by orjson for speed, they must stay the
bytes the standard library wrote, or every row recorded before would read as edited."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given, settings, strategies as st

from auditor.vault.ledger import all_digests, compact_json, digests, row_digest
from tests.cursors import cursor_classes, last_on_server
from tests.policy.vault_data import populate

# what a stored value becomes before it is written (ledger._plain): text, an integer or nothing
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
plain = st.one_of(st.none(), texts, st.integers(min_value=-2**63, max_value=2**64 - 1), st.integers())


def _stdlib(doc) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(texts, st.lists(st.tuples(texts, plain).map(list), max_size=6))
def test_a_row_is_written_as_the_standard_library_wrote_it(table, pairs):
    assert compact_json([table, pairs]) == _stdlib([table, pairs])


def test_control_characters_quotes_and_integers_past_64_bits_are_written_as_before():
    doc = ["case_findings", [["explanation", "\x00\x1f\x7f\u2028\b\f\n\r\t\"\\é"], ["id", 2**70], ["risk", -1]]]
    assert compact_json(doc) == _stdlib(doc)


def test_a_rows_digest_is_the_one_the_standard_library_gave():
    columns = ("id", "case_id", "finding_key", "rule", "severity", "risk", "patient_id", "event_ids", "first_at",
               "last_at", "added_at", "explanation")
    stored = (7, 3, "ab" * 32, "snooping", "high", 70, None, '["e-1","é"]', 1, 2, 3, b"\x00\xff")
    written = [[name, value.hex() if isinstance(value, bytes) else value]
               for name, value in zip(columns, stored) if value is not None]
    assert row_digest("case_findings", stored) == hashlib.sha256(_stdlib(["case_findings", written])).digest()


class _Count(int):  # an int of another type (an IntEnum, a driver's own): not by row_digest's shortcut
    pass


stored_values = st.one_of(plain, st.booleans(), st.binary(max_size=8), st.floats(allow_nan=False),
                          st.dates(), st.datetimes(), st.integers().map(_Count))


@settings(max_examples=300, deadline=None)
@given(st.lists(stored_values, min_size=12, max_size=12))
def test_a_rows_digest_takes_each_value_as_plain_takes_it(values):
    """row_digest lets text and integers past _plain by their exact type: the digest is the one every
    value through _plain gives, booleans (an int's subclass), bytes, dates and other types included."""
    from auditor.vault.ledger import _COLUMNS, _plain

    pairs = [[name, _plain(value)] for name, value in zip(_COLUMNS["case_findings"], values) if value is not None]
    assert row_digest("case_findings", tuple(values)) == hashlib.sha256(compact_json(["case_findings", pairs])).digest()


def test_every_rows_digest_is_read_and_on_postgresql_through_a_server_side_cursor(vault, backend):
    """`audit verify` digests every row of each ledger table (auditor.vault.integrity): on PostgreSQL
    through a server-side cursor of psycopg's own, or psycopg would hold the whole table, ciphertext
    included, before the first digest. The digests are those of the rows read by key."""
    ids = populate(vault)
    with vault.records.connect() as conn:
        with cursor_classes(conn, lambda sql: sql.startswith("SELECT") and "patients" in sql
                            and " IN (" not in sql) as cursors:
            streamed = dict(all_digests(conn, "patients", batch=2))
        # on PostgreSQL the server ran it on a named cursor, closed when the last row was read
        last = last_on_server(conn) if backend == "postgres" else None
        assert not conn.get_execution_options().get("stream_results")  # the connection's later reads whole
        by_key = digests(conn, "patients", sorted(ids.values()))
    assert streamed == by_key and set(streamed) == {str(i) for i in ids.values()} and len(streamed) > 2
    if backend == "postgres":
        assert cursors == [] and last.startswith('CLOSE "auditor_rows_'), (cursors, last)
    else:
        assert cursors == ["Cursor"]

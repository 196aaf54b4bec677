"""The ledger's row digests (auditor.vault.ledger): written by orjson for speed, they must stay the
bytes the standard library wrote, or every row recorded before would read as edited."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from auditor.vault.gateway.bulk import insert_rows
from auditor.vault.gateway.casework import Casework
from auditor.vault.gateway.recording import AS_BLOCK_FROM
from auditor.vault.integrity import row_problems, verify_vault
from auditor.vault.ledger import all_digests, compact_json, digests, row_digest, written_digests
from auditor.vault.records import Case, CaseFinding
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


# case_findings rows as a review writes them (auditor.cases.attach), with every value a column may take
_AT = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2199, 12, 31), timezones=st.just(timezone.utc))
_finding_rows = st.lists(st.fixed_dictionaries({
    "finding_key": st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
                           max_size=64),
    "rule": texts.filter(lambda t: "\x00" not in t), "severity": st.sampled_from(["low", "high", "critical"]),
    "risk": st.integers(-2**31, 2**31 - 1), "patient_id": st.one_of(st.none(), st.integers(-2**63, 2**63 - 1)),
    "event_ids": texts.filter(lambda t: "\x00" not in t), "first_at": _AT, "last_at": _AT, "added_at": _AT,
    "explanation": st.one_of(st.none(), st.binary(max_size=40)),
}), min_size=1, max_size=8, unique_by=lambda row: row["finding_key"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_finding_rows)
def test_the_digests_of_rows_as_written_are_the_ones_read_back(vault, rows):
    """A review's case findings are recorded with digests made from the values written, not read back
    (ServiceChange.insert): they must be the bytes `audit verify` reads from the database, on either
    backend, or every case finding would read as edited."""
    with Session(vault.records) as session, session.begin():
        case = Case(user_id="u", status="open", first_day=date(2026, 11, 1), last_day=date(2026, 11, 30),
                    opened_at=datetime(2026, 12, 1, tzinfo=timezone.utc), data_key_id=1)
        session.add(case)
        session.flush()
        made = [dict(row, id=n + 1, case_id=case.id) for n, row in enumerate(rows)]
        written = written_digests("case_findings", session.connection(), made)
        insert_rows(session, CaseFinding, made)
        assert written is not None and written == digests(session.connection(), "case_findings", list(written))
        session.rollback()


@pytest.mark.parametrize("change", [{"risk": True}, {"risk": 70.0}, {"patient_id": "7"}, {"rule": 5},
                                    {"explanation": "text"}, {"first_at": 1}])
def test_a_value_a_backend_might_store_otherwise_is_read_back(vault, change):
    """A boolean, a float, a number for a text column or text for an integer one: SQLite's affinity or
    PostgreSQL could store them otherwise than given, so no digest is made of them (None: read back)."""
    at = datetime(2026, 11, 2, tzinfo=timezone.utc)
    row = dict(id=1, case_id=1, finding_key="k", rule="snooping", severity="high", risk=70, patient_id=7,
               event_ids='["e"]', first_at=at, last_at=at, added_at=at, explanation=b"x")
    with vault.records.connect() as conn:
        assert written_digests("case_findings", conn, [row]) is not None
        bad = dict(row, **change)
        try:
            assert written_digests("case_findings", conn, [row, bad]) is None
        except ValueError:  # the type's own check refused it first (an aware datetime is required)
            assert "first_at" in change


def test_text_past_its_columns_length_is_read_back(vault):
    """PostgreSQL cuts the spaces past VARCHAR(n)'s length ('r' * 64 + ' ' is stored as 64 r's), SQLite
    keeps them: text longer than its column is never digested as given."""
    at = datetime(2026, 11, 2, tzinfo=timezone.utc)
    row = dict(id=1, case_id=1, finding_key="k", rule="r" * 64, severity="high", risk=70, patient_id=None,
               event_ids="[]", first_at=at, last_at=at, added_at=at, explanation=None)
    with vault.records.connect() as conn:
        assert written_digests("case_findings", conn, [row]) is not None
        assert written_digests("case_findings", conn, [dict(row, rule="r" * 64 + " ")]) is None


def test_text_postgresql_would_give_back_as_bytes_is_read_back(vault, backend):
    """With the client encoding SQL_ASCII psycopg reads text back as bytes, whose digest is another:
    on PostgreSQL a digest is made of the values written only when the client encoding is UTF-8."""
    if backend != "postgres":
        pytest.skip("PostgreSQL's client encoding")
    at = datetime(2026, 11, 2, tzinfo=timezone.utc)
    row = dict(id=1, case_id=1, finding_key="k", rule="snooping", severity="high", risk=70, patient_id=None,
               event_ids="[]", first_at=at, last_at=at, added_at=at, explanation=None)
    with vault.records.connect() as conn:
        assert written_digests("case_findings", conn, [row]) is not None
        conn.exec_driver_sql("SET client_encoding TO 'SQL_ASCII'")
        assert written_digests("case_findings", conn, [row]) is None


def test_a_column_left_out_is_digested_with_the_default_insert_rows_writes(vault):
    """documents' source and sensitivity, left out, take their scalar defaults ('vault', 'general') as
    insert_rows writes them: the digest made before is the one read back after. A patient row that
    leaves out `vip` would take False, a boolean: no digest is made of it (read back)."""
    from auditor.vault.records import ClinicalDocument

    patient = populate(vault)["P-OK"]
    row = dict(id=99, patient_id=patient, doc_type="note", recorded_at=datetime(2026, 11, 3, tzinfo=timezone.utc),
               title=b"sealed", body=None)
    with Session(vault.records) as session, session.begin():
        written = written_digests("documents", session.connection(), [row])
        insert_rows(session, ClinicalDocument, [row])
        assert written == digests(session.connection(), "documents", [99]) and set(written) == {"99"}
        session.rollback()
    with vault.records.connect() as conn:
        assert written_digests("patients", conn, [{"id": 1, "data_key_id": 1}]) is None


def test_rows_inserted_then_updated_in_one_work_are_recorded_as_they_stand(vault):
    """ServiceChange.insert records rows with digests made from the values written. One the same work
    updates afterwards is recorded once, as it stands at the end; `audit verify` finds the ledger clean.
    Without that exception its digest would be the inserted row's, and the row would read as edited."""
    at = datetime(2026, 11, 2, tzinfo=timezone.utc)

    def work(change):
        case = Case(user_id="u", status="open", first_day=date(2026, 11, 1), last_day=date(2026, 11, 30),
                    opened_at=at, data_key_id=1)
        change.session.add(case)
        change.session.flush()
        change.wrote("cases", "create", [case.id])
        rows = [dict(id=1000 + n, case_id=case.id, finding_key=f"k{n}", rule="snooping", severity="high", risk=70,
                     patient_id=None, event_ids=f'["e{n}"]', first_at=at, last_at=at, added_at=at, explanation=None)
                for n in range(AS_BLOCK_FROM + 1)]  # as a block of ledger events, as a review's are
        change.insert(CaseFinding, rows)
        change.session.execute(update(CaseFinding).where(CaseFinding.id == 1000).values(risk=99))
        change.wrote("case_findings", "update", [1000])

    Casework(vault.gateway).change("create", work)
    result = verify_vault(vault.records, vault.keyring, [vault.checkpoints.path])
    assert result.ok and row_problems(result) == []
    with vault.records.begin() as conn:  # and the ledger still names a row edited behind its back
        conn.execute(update(CaseFinding).where(CaseFinding.id == 1001).values(risk=1))
    problems = row_problems(verify_vault(vault.records, vault.keyring, [vault.checkpoints.path]))
    assert [p.kind for p in problems] == ["row-edited"] and "1001" in problems[0].message


def _finding_rows(case_id: int, n: int) -> list[dict]:
    at = datetime(2026, 11, 2, tzinfo=timezone.utc)
    return [dict(id=2000 + i, case_id=case_id, finding_key=f"k{i}", rule="snooping", severity="high", risk=70,
                 patient_id=None, event_ids=f'["e{i}"]', first_at=at, last_at=at, added_at=at, explanation=None)
            for i in range(n)]


def _open_case(change) -> int:
    case = Case(user_id="u", status="open", first_day=date(2026, 11, 1), last_day=date(2026, 11, 30),
                opened_at=datetime(2026, 11, 2, tzinfo=timezone.utc), data_key_id=1)
    change.session.add(case)
    change.session.flush()
    change.wrote("cases", "create", [case.id])
    return case.id


def test_a_row_inserted_then_recorded_at_once_as_updated_is_recorded_as_it_stands(vault):
    """An update recorded at once (record_rows, as muting does) after ServiceChange.insert: the create
    event, queued at the end, digests the row as it stands, not as inserted."""

    def work(change):
        change.insert(CaseFinding, _finding_rows(_open_case(change), 3))
        change.session.execute(update(CaseFinding).where(CaseFinding.id == 2000).values(risk=99))
        change.record_rows("case_findings", "update", [2000])

    Casework(vault.gateway).change("create", work)
    result = verify_vault(vault.records, vault.keyring, [vault.checkpoints.path])
    assert result.ok and row_problems(result) == []


def test_a_row_inserted_then_deleted_in_one_work_is_refused_as_before(vault):
    """Created and deleted in one unit of work: the create event finds no row to record, and the work
    is refused (StorageError), as when every digest was read back; nothing is left of it."""
    from auditor.errors import AuditorError

    def work(change):
        change.insert(CaseFinding, _finding_rows(_open_case(change), 3))
        change.record_rows("case_findings", "delete", [2001])
        change.session.execute(delete(CaseFinding).where(CaseFinding.id == 2001))

    with pytest.raises(AuditorError, match="not there"):
        Casework(vault.gateway).change("create", work)
    with vault.records.connect() as conn:
        assert conn.execute(select(func.count()).select_from(CaseFinding)).scalar_one() == 0
    assert verify_vault(vault.records, vault.keyring, [vault.checkpoints.path]).ok

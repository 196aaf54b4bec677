"""Rows written many at a time (auditor.vault.gateway.bulk: COPY on PostgreSQL) and keys looked up many
at a time (auditor.vault.gateway.keyed: one array on PostgreSQL), on both backends: what comes back
is what went in, in the caller's transaction, whatever the text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.vault.gateway.bulk import insert_rows
from auditor.vault.gateway.keyed import SQLITE_CHUNK, among, loaded
from auditor.vault.records import ClinicalDocument, Order, Patient

AT = datetime(2026, 11, 2, 9, 30, 15, 123456, tzinfo=timezone.utc)


def _patient(session) -> int:
    return session.execute(select(Patient.id).order_by(Patient.id).limit(1)).scalar_one()


def _orders(pid: int, ids: list[str]) -> list[dict]:
    return [{"source": "ehr", "source_id": sid, "patient_id": pid, "ordering_id": None,
             "performing_department": None if k % 2 else "Radiology\tNorth", "type": "imaging",
             "placed_at": AT + timedelta(minutes=k), "completed_at": None if k % 3 else AT + timedelta(days=1)}
            for k, sid in enumerate(ids)]


def test_rows_come_back_as_written_with_their_ids_in_order(population):
    with Session(population.records) as session, session.begin():
        pid = _patient(session)
        rows = _orders(pid, [f"O-{k}" for k in range(25)])
        made = insert_rows(session, Order, rows, ids=True)
        assert made == sorted(made) and len(set(made)) == 25
        back = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(made)))}
        for oid, row in zip(made, rows):
            stored = back[oid]
            assert {k: getattr(stored, k) for k in row} == row
        assert insert_rows(session, Order, []) == []


def test_a_python_default_the_rows_leave_out_is_written(population):
    with Session(population.records) as session, session.begin():
        pid = _patient(session)
        insert_rows(session, ClinicalDocument, [{"id": 9_000_000_001, "source_id": "bulk:1", "patient_id": pid,
                                                 "doc_type": "note", "recorded_at": AT, "title": None, "body": None}])
        doc = session.get(ClinicalDocument, 9_000_000_001)
        assert (doc.source, doc.sensitivity) == ("vault", "general")


def test_a_failure_later_in_the_transaction_takes_the_copied_rows_with_it(population):
    with pytest.raises(RuntimeError), Session(population.records) as session, session.begin():
        insert_rows(session, Order, _orders(_patient(session), ["gone-1", "gone-2"]), ids=True)
        raise RuntimeError("the batch's audit write failed")
    with Session(population.records) as session:
        assert session.scalars(select(Order.id).where(Order.source_id.like("gone-%"))).all() == []


def test_many_keys_are_found_past_one_chunk(population):
    wanted = [f"K-{k:05d}" for k in range(SQLITE_CHUNK * 2 + 7)]
    with Session(population.records) as session, session.begin():
        insert_rows(session, Order, _orders(_patient(session), wanted[::2]), ids=True)
        found = {sid for (sid,) in among(session, select(Order.source_id), Order.source_id, wanted)}
        assert found == set(wanted[::2])
        records = [type("R", (), {"source": "ehr", "source_id": sid})() for sid in wanted[:40]]
        assert loaded(session, Order, records) == {("ehr", sid) for sid in wanted[:40:2]}


# text as an export may hold it: tabs, newlines, backslashes, quotes, any script (not NUL, which
# neither database stores in text)
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=60)


@pytest.mark.parametrize("asked", [True, False], ids=["ids", "no-ids"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(texts, min_size=1, max_size=8, unique=True), texts)
def test_any_text_survives_the_copy(population, asked, ids, department):
    """With ids asked: COPY on PostgreSQL, an INSERT ... RETURNING on SQLite; without: COPY, or the
    values bound by executemany on SQLite. Every column comes back as written."""
    with Session(population.records) as session:
        with session.begin():
            rows = [{**r, "performing_department": department} for r in _orders(_patient(session), ids)]
            made = insert_rows(session, Order, rows, ids=asked)
            stored = {o.source_id: o for o in session.scalars(select(Order).where(Order.source_id.in_(ids)))}
            assert [{k: getattr(stored[i], k) for k in rows[0]} for i in ids] == rows
            assert made == ([stored[i].id for i in ids] if asked else [])
            assert {sid for (sid,) in among(session, select(Order.source_id), Order.source_id, ids)} == set(ids)
            session.rollback()


def test_a_refused_copy_is_the_database_error_an_insert_would_raise(population):
    from sqlalchemy.exc import IntegrityError

    with Session(population.records) as session, session.begin():
        insert_rows(session, Order, _orders(_patient(session), ["dup"]), ids=True)
    with pytest.raises(IntegrityError), Session(population.records) as session, session.begin():
        insert_rows(session, Order, _orders(_patient(session), ["other", "dup"]), ids=True)
    with Session(population.records) as session:
        assert session.scalars(select(Order.source_id).where(Order.source_id.in_(["dup", "other"]))).all() == ["dup"]


def test_a_key_is_never_cut_to_the_column_s_length_and_an_empty_one_is_a_key(population):
    stored = "A" * 128
    with Session(population.records) as session, session.begin():
        insert_rows(session, Order, _orders(_patient(session), [stored, ""]), ids=True)
        assert list(among(session, select(Order.source_id), Order.source_id, [stored + "B"])) == []
        records = [type("R", (), {"source": "ehr", "source_id": sid})() for sid in (stored, "", "new")]
        assert loaded(session, Order, records) == {("ehr", stored), ("ehr", "")}



def test_a_refused_row_without_ids_is_the_database_error_an_insert_would_raise(population):
    from sqlalchemy.exc import IntegrityError

    with Session(population.records) as session, session.begin():
        insert_rows(session, Order, _orders(_patient(session), ["twice"]))
    with pytest.raises(IntegrityError), Session(population.records) as session, session.begin():
        insert_rows(session, Order, _orders(_patient(session), ["another", "twice"]))
    with Session(population.records) as session:
        assert session.scalars(select(Order.source_id).where(Order.source_id.in_(["twice", "another"]))).all() == ["twice"]

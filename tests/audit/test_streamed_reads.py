"""Reads that grow with the log or with the month stream on PostgreSQL (a server-side cursor for their
statement only: psycopg's ordinary cursor holds a whole result before its first row) and give what
they gave before: the rows of a span of the log (`auditor export auditevents`, a patient's FHIR feed),
the archived leaves (archiving, inclusion proofs, signing an archive record at upgrade), and the
findings a member's cases already hold (attaching a review's findings). SQLite reads as before: an
ordinary cursor. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from auditor.audit.blocks import stored_events
from auditor.audit.events import CANONICAL_COLUMNS
from auditor.audit.fhir_export import log_events
from auditor.audit.proofs import build_proof, check_proof
from auditor.audit.verify import verify_log
from auditor.cases.attach import attach_findings
from auditor.policy.findings import Finding
from auditor.vault.gateway.casework import Casework
from auditor.vault.integrity import _sign_archives
from tests.audit.helpers import append_batches
from tests.audit.test_blocks import _imported, _vault_events
from tests.cursors import cursor_classes
from tests.retention.test_log_archive import _archive, _aged


def _streamed(engine) -> list[str]:
    """What one streamed statement's cursor is on this backend."""
    return ["ServerCursor"] if engine.dialect.name == "postgresql" else ["Cursor"]


def _rows_read(sql: str) -> bool:
    return "FROM audit_events" in sql  # not audit_event_blocks, nor the head


def test_a_span_of_the_log_streams_its_rows_and_reads_as_stored_events(vault):
    """Rows 3..7, a block 8..37, rows 38..42, a block 43..62, read two rows a fetch: every event in
    sequence order, as stored_events reads it, rows and blocks interleaved."""
    append_batches(vault, (_vault_events(5, "a"), [_imported(30, "A")], _vault_events(5, "b"), [_imported(20, "B")]))
    with vault.records.connect() as conn:
        expected = [dict(zip(CANONICAL_COLUMNS, e.row)) for e in stored_events(conn)]
        with cursor_classes(conn, _rows_read) as seen:
            everything = list(log_events(conn, 0, 1 << 62, vault.keyring.log_mac_key, batch=2))
        assert seen == _streamed(vault.records)
        patient = list(log_events(conn, 0, 1 << 62, vault.keyring.log_mac_key, patient_id=1, batch=2))
        # the connection itself is left as it was: a later read on it takes its whole result at once
        with cursor_classes(conn, _rows_read) as later:
            conn.execute(select(*_columns()).order_by(_columns()[0])).all()
        assert later == ["Cursor"]
    assert [e["seq"] for e in everything] == list(range(1, 63))
    assert everything == expected
    assert patient == [e for e in expected if e["patient_id"] == 1] and len(patient) == 10


def _columns():
    from auditor.audit.blocks import EVENTS

    return [EVENTS.c.seq, EVENTS.c.at_us]


def test_the_archived_leaves_stream_when_archiving_proving_and_signing(request, backend, tmp_path):
    """Events 1..8 archived, then 9..12: the second archive folds the leaves of the first as they are
    read; a proof of event 16 reads all twelve, as does the upgrade that signs an archive record left
    unsigned (a vault before r0009). Each read streams on PostgreSQL, and the log verifies against every root."""
    urls = {}
    if backend == "postgres":
        make = request.getfixturevalue("fresh_postgres_db")
        urls = {"database_url": make(), "keystore_url": make()}
    vault = _aged(tmp_path, **urls)
    try:
        leaves = lambda sql: "FROM audit_archived_leaves" in sql  # noqa: E731
        with vault.records.connect() as conn:
            vault.audit_log.checkpoint_now(conn)  # over all 16 events, signed before the archives
        first = _archive(vault, tmp_path / "2018.jsonl", date(2019, 1, 1))
        with cursor_classes(vault.records, leaves) as seen:
            second = _archive(vault, tmp_path / "2019.jsonl", date(2020, 1, 1))
        assert (first.first_seq, first.last_seq, second.first_seq, second.last_seq) == (1, 8, 9, 12)
        # the archiving's own verify_log reads them too (streamed since before this change), then the fold
        assert seen == _streamed(vault.records) * 2
        latest = vault.checkpoints.latest()
        with cursor_classes(vault.records, leaves) as seen:
            proof = build_proof(vault.records, 16, latest)
        assert seen == _streamed(vault.records)
        assert check_proof(proof, vault.keyring.signing_public_key).ok and proof["seq"] == 16
        # r0009's upgrade reads them to sign an archive record left unsigned; none is here: nothing changes
        with vault.records.begin() as conn, cursor_classes(conn, leaves) as seen:
            assert _sign_archives(conn, vault) == 0
        assert seen == _streamed(vault.records)
        result = verify_log(vault.records, vault.keyring, [vault.checkpoints.path])
        assert result.ok and result.size == 16, result.problems
    finally:
        vault.close()


def _finding(events: list[str], patient: int | None = None) -> Finding:
    return Finding(rule="after-hours", severity="medium", user_id="dr.house", patient_id=patient, mrn=None,
                   event_ids=events, risk=45, explanation="worked outside their shift.",
                   first_at="2026-11-02T15:00:00+00:00", last_at="2026-11-02T15:00:00+00:00")


def test_the_findings_a_member_s_cases_hold_stream_when_a_review_attaches(vault):
    """A rerun over a narrower span finds a finding whose events the member's case holds already: it
    is given that case, nothing is added; the case's findings were read streamed on PostgreSQL."""
    casework = Casework(vault.gateway)
    first = attach_findings(casework, [_finding(["e1", "e2"]), _finding(["e3"])], date(2026, 11, 1), date(2026, 11, 30))
    assert first.added == 2 and len(first.opened) == 1
    narrower = [_finding(["e1"]), _finding(["e2", "e3"]), _finding(["e4"])]
    held = lambda sql: "case_findings.event_ids" in sql and "JOIN cases" in sql  # noqa: E731
    with cursor_classes(vault.records, held) as seen:
        again = attach_findings(casework, narrower, date(2026, 11, 2), date(2026, 11, 2))
    assert seen == _streamed(vault.records)
    case = first.opened[0]
    assert [f.case for f in narrower] == [case, case, case]
    assert (again.added, again.already, again.opened, again.extended) == (1, 2, [], [case])


def test_an_export_that_fails_mid_way_closes_its_streamed_read_with_its_connection(vault, full_disk):
    """`audit export auditevents` onto a full disk fails at its first chunk of events, its read of the
    log's rows half done. That read is closed before its connection goes back to the pool: a failure
    kept a while (logged, or in a reference cycle) and then let go must not close a server-side cursor
    on whatever transaction the pool has lent the connection to since (PostgreSQL would abort it)."""
    import gc
    from datetime import timedelta

    from sqlalchemy import text

    from auditor.audit.events import AuditEvent
    from auditor.errors import OutputError
    from auditor.policy.frames import Period
    from auditor.review.audit_export import CHUNK, export_auditevents
    from auditor.vault.gateway import AccessContext
    from tests.policy.vault_data import populate

    populate(vault)
    start = vault.clock.now() - timedelta(hours=1)
    events = [AuditEvent(at=start + timedelta(microseconds=i), action="view", user_id="dr.house", role="physician",
                         patient_id=None, source="vault") for i in range(CHUNK + 50)]
    with vault.records.begin() as conn:
        appended = vault.audit_log.append(conn, events)
    vault.audit_log.after_commit(appended, len(events))
    today = vault.today()
    with pytest.raises(OutputError, match="No space left on device") as failed:
        export_auditevents(vault, Period(today, today, vault.timezone), full_disk / "a.ndjson",
                           AccessContext.of_staff("officer", "privacy_officer", "HCOMPL"))
    # the failure is held (as a caller logging it would), and no read of the log is left suspended in it
    assert failed.value.__context__ is not None and failed.tb is not None
    assert _suspended(log_events) == []
    with vault.records.begin() as conn:  # and the pool's connections serve on
        assert conn.execute(text("SELECT 1")).scalar() == 1
        del failed
        gc.collect()
        assert conn.execute(text("SELECT 2")).scalar() == 2


def _suspended(function) -> list:
    """The generators of `function` still alive and not finished: each holds its `finally` unrun."""
    import gc
    import inspect

    return [g for g in gc.get_objects() if inspect.isgenerator(g) and g.gi_code is function.__code__
            and g.gi_frame is not None]

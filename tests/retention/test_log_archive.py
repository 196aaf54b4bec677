"""The log's own retention (45 CFR 164.530(j)): events older than six years go to an archive file with
a signed checkpoint, and leave the database only once the file verifies; the log, its checkpoints
and the proofs of later events still verify afterwards, and a tampered archive is named."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from auditor.audit.archive import archive_log, check_archive
from auditor.audit.log import EVENTS
from auditor.audit.proofs import build_proof, check_proof
from auditor.audit.verify import verify_log
from auditor.clock import FixedClock
from auditor.errors import InputError, NotFound, TamperDetected
from auditor.home import create_home
from auditor.vault.gateway import AccessContext, PatientDemographics
from tests.conftest import FAST_SCRYPT
from tests.cursors import cursor_classes

SVC = AccessContext.service("import")
TODAY = date(2026, 11, 2)


def _aged(tmp_path, **urls):
    """A vault made in 2018 (its first events, 1..2) with 3 patients registered in 2018 (events 3..8: a
    create and a ledger event each), 2 in 2019 (9..12) and 2 in 2026 (13..16)."""
    clock = FixedClock(datetime(2018, 3, 1, 9, tzinfo=timezone.utc))
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT, **urls)
    for year, mrns in ((2018, ["A1", "A2", "A3"]), (2019, ["B1", "B2"]), (2026, ["C1", "C2"])):
        clock.at = datetime(year, 3, 1, 9, tzinfo=timezone.utc)
        vault.gateway.register_patients(SVC, [PatientDemographics(m) for m in mrns])
    return vault


@pytest.fixture
def aged_any(request, backend, tmp_path):
    """The same on each backend (records and key store on PostgreSQL when there is a server)."""
    urls = {}
    if backend == "postgres":
        make = request.getfixturevalue("fresh_postgres_db")
        urls = {"database_url": make(), "keystore_url": make()}
    vault = _aged(tmp_path, **urls)
    yield vault
    vault.close()


@pytest.fixture
def aged(tmp_path):
    clock = FixedClock(datetime(2018, 3, 1, 9, tzinfo=timezone.utc))
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    for year, mrns in ((2018, ["A1", "A2", "A3"]), (2019, ["B1", "B2"]), (2026, ["C1", "C2"])):
        clock.at = datetime(year, 3, 1, 9, tzinfo=timezone.utc)
        vault.gateway.register_patients(SVC, [PatientDemographics(m) for m in mrns])
    yield vault
    vault.close()


def _size(vault):
    with vault.records.connect() as conn:
        return conn.scalar(select(func.count()).select_from(EVENTS))


def _archive(vault, out, before):
    return archive_log(vault.records, vault.keyring, vault.audit_log, [vault.checkpoints.path], before, TODAY, out)


def test_archiving_keeps_the_log_verifiable(aged_any, tmp_path):
    vault = aged_any
    with vault.records.connect() as conn:
        vault.audit_log.checkpoint_now(conn)  # a checkpoint over all 7 events, signed before the archive
    first = _archive(vault, tmp_path / "2018.jsonl", date(2019, 1, 1))
    assert (first.first_seq, first.last_seq) == (1, 8) and _size(vault) == 8
    assert (tmp_path / "2018.jsonl").stat().st_mode & 0o777 == 0o600
    second = _archive(vault, tmp_path / "2019.jsonl", date(2020, 1, 1))
    assert (second.first_seq, second.last_seq) == (9, 12) and _size(vault) == 4
    assert _archive(vault, tmp_path / "none.jsonl", date(2020, 1, 1)) is None
    with cursor_classes(vault.records, lambda sql: "audit_archived_leaves" in sql or "header_seal" in sql) as seen:
        result = verify_log(vault.records, vault.keyring, [vault.checkpoints.path])
    assert result.ok and result.size == 16 and result.checkpoints_checked >= 3, result.problems
    # the archived leaves stream on PostgreSQL, their statement only: the blocks' headers read after them
    # on the same connection come whole, as that read asks
    assert seen == (["ServerCursor", "Cursor"] if vault.records.dialect.name == "postgresql" else ["Cursor"] * 2)
    for path, span in ((tmp_path / "2018.jsonl", (1, 8)), (tmp_path / "2019.jsonl", (9, 12))):
        check = check_archive(path, vault.keyring)
        assert check.ok and (check.first_seq, check.last_seq) == span
    latest = vault.checkpoints.latest()
    assert check_proof(build_proof(vault.records, 16, latest), vault.keyring.signing_public_key).ok
    with pytest.raises(NotFound, match="event 2 is archived"):
        build_proof(vault.records, 2, latest)
    vault.gateway.register_patients(SVC, [PatientDemographics("D1")])  # appending carries on
    assert verify_log(vault.records, vault.keyring, [vault.checkpoints.path]).ok


def test_a_tampered_archive_or_leaf_is_named(aged, tmp_path):
    vault = aged
    _archive(vault, tmp_path / "a.jsonl", date(2019, 1, 1))
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    record = json.loads(lines[2])
    record["entry"] = record["entry"].replace('"create"', '"delete"')
    (tmp_path / "b.jsonl").write_text("\n".join([lines[0], lines[1], json.dumps(record), lines[3]]) + "\n")
    assert check_archive(tmp_path / "b.jsonl", vault.keyring).message.endswith("event 2 is missing, edited or forged")
    (tmp_path / "c.jsonl").write_text("\n".join([lines[0], lines[1], lines[3]]) + "\n")
    assert not check_archive(tmp_path / "c.jsonl", vault.keyring).ok
    assert not check_archive(tmp_path / "nothing.jsonl", vault.keyring).ok
    vault.records.dispose()
    import sqlite3

    con = sqlite3.connect(vault.home / "records.db")
    with pytest.raises(sqlite3.IntegrityError, match="audit_archived_leaves"):
        con.execute("update audit_archived_leaves set leaf_hash = x'00' where seq = 2")
    con.execute("drop trigger audit_archived_leaves_no_update")  # an attacker with the database file
    con.execute("update audit_archived_leaves set leaf_hash = zeroblob(32) where seq = 2")
    con.commit()
    con.close()
    result = verify_log(vault.records, vault.keyring, [vault.checkpoints.path])
    assert not result.ok and result.first_bad_seq == 2


def test_six_years_are_kept_and_nothing_changes_on_refusal(aged, tmp_path):
    vault = aged
    with pytest.raises(InputError, match=r"younger than six years \(45 CFR 164.530\(j\)\(2\)\); the latest allowed "
                                         r"today is 2020-11-02"):
        _archive(vault, tmp_path / "x.jsonl", date(2021, 1, 1))
    (tmp_path / "exists.jsonl").write_text("")
    with pytest.raises(InputError, match="never overwritten"):
        _archive(vault, tmp_path / "exists.jsonl", date(2019, 1, 1))
    vault.records.dispose()
    import sqlite3

    con = sqlite3.connect(vault.home / "records.db")
    con.execute("update audit_events set user_id = 'x' where seq = 6")
    con.commit()
    con.close()
    with pytest.raises(TamperDetected, match="nothing archived"):
        _archive(vault, tmp_path / "y.jsonl", date(2019, 1, 1))
    assert _size(vault) == 16 and not (tmp_path / "y.jsonl").exists()


def test_the_archive_commands(auditor, aged, tmp_path):
    aged.close()
    out = tmp_path / "old.jsonl"
    on_today = FixedClock(datetime(2026, 11, 2, 15, tzinfo=timezone.utc))  # six years are counted back from it
    early = auditor("audit", "archive", "--before", "2020-11-03", "--out", str(out), clock=on_today, user="records")
    assert early.code == 2 and "younger than six years" in early.err and not out.exists()
    done = auditor("audit", "archive", "--before", "2019-01-01", "--out", str(out), clock=on_today, user="records")
    assert done.code == 0 and done.out.startswith(f"events 1..8 archived to {out}"), done.err
    checked = auditor("audit", "verify-archive", str(out))
    assert checked.code == 0 and checked.out.startswith("OK: ")
    lines = out.read_text().splitlines()
    record = json.loads(lines[1])
    record["entry"] = record["entry"].replace('"create"', '"delete"')
    out.write_text("\n".join([lines[0], json.dumps(record), *lines[2:]]) + "\n")
    assert auditor("audit", "verify-archive", str(out)).code == 1
    assert auditor("audit", "verify").code == 0


def test_an_unreadable_line_is_named(aged, tmp_path):
    _archive(aged, tmp_path / "a.jsonl", date(2019, 1, 1))
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    (tmp_path / "b.jsonl").write_text("\n".join([lines[0], lines[1], '{"entry": 5}', lines[3]]) + "\n")
    assert check_archive(tmp_path / "b.jsonl", aged.keyring).message.endswith("event 2 cannot be read")

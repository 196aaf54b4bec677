"""Issue 15, section 1: evidence the log does not cover. Each test is what an attacker with write access
to records.db does (plain SQLite), then what the privacy officer runs (the CLI), and what it must say.

The vault: a simulated month ingested and audited (tests/adversarial/conftest.py). Its accesses are
stored in blocks of imported events; the treatment data the explanations use in ledger tables.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

import pyarrow as pa
import pytest

from auditor.audit import blocks
from tests.adversarial.conftest import MONTH_FROM, MONTH_TO, records_db


def findings(auditor, tmp_path, name: str = "findings.json"):
    out = tmp_path / name
    result = auditor("findings", "--from", MONTH_FROM, "--to", MONTH_TO, "--format", "json", "--out", str(out),
                     user="investigator")
    assert result.code == 0, result.err
    accesses = int(result.out.split(" patient accesses")[0].rsplit("; ", 1)[1])
    return json.loads(out.read_text()), accesses, result


def verify(auditor, *copies):
    extra = [a for c in copies for a in ("--checkpoint", str(c))]
    return auditor("audit", "verify", *extra)


def copy_of_checkpoints(home, tmp_path):
    """The officer's copy of checkpoints.log, kept off the machine."""
    kept = tmp_path / "checkpoints-copy.log"
    shutil.copyfile(home / "checkpoints.log", kept)
    return kept


def first_block(conn: sqlite3.Connection):
    return conn.execute("SELECT first_seq, last_seq, events, leaves, seals FROM audit_event_blocks "
                        "WHERE source = 'ehr' ORDER BY first_seq LIMIT 1").fetchone()


# -- 1. block headers steer the engine -----------------------------------------------------------------
def test_a_moved_block_header_hides_no_access_and_verify_names_it(attacked_home, auditor, tmp_path):
    before, accesses, _ = findings(auditor, tmp_path, "before.json")
    kept = copy_of_checkpoints(attacked_home, tmp_path)
    assert accesses > 3000
    with records_db(attacked_home) as conn:
        conn.execute("UPDATE audit_event_blocks SET first_at_us = 0, last_at_us = 0")

    after, seen, result = findings(auditor, tmp_path, "after.json")
    assert seen == accesses  # the engine did not take the header's word for where the events are
    assert "header that does not verify" in result.err
    assert {(f["rule"], tuple(f["event_ids"])) for f in after} == {(f["rule"], tuple(f["event_ids"])) for f in before}

    checked = verify(auditor, kept)
    assert checked.code == 1
    assert "block-header" in checked.out and "its seal does not verify" in checked.out
    assert "its span of times is not its events'" in checked.out


# -- 2. fake archiving erases events -------------------------------------------------------------------
def _leading_rows(conn, most: int) -> int:
    """How many of the log's first events, up to `most`, are rows (before its first block: the vault's
    creation; the context load's events go in blocks)."""
    first_block = conn.execute("SELECT MIN(first_seq) FROM audit_event_blocks").fetchone()[0]
    n = min(most, first_block - 1)
    assert n >= 2 and conn.execute("SELECT COUNT(*) FROM audit_events WHERE seq <= ?", (n,)).fetchone()[0] == n
    return n


def test_leaves_marked_archived_without_a_signed_archive_are_deleted_events(attacked_home, auditor, tmp_path):
    kept = copy_of_checkpoints(attacked_home, tmp_path)
    with records_db(attacked_home) as conn:  # the first events: "archived" by hand, then deleted
        n = _leading_rows(conn, 40)
        conn.execute("INSERT INTO audit_archived_leaves (seq, leaf_hash, seal) "
                     "SELECT seq, leaf_hash, seal FROM audit_events WHERE seq <= ?", (n,))
        conn.execute("DELETE FROM audit_events WHERE seq <= ?", (n,))
    checked = verify(auditor, kept)
    assert checked.code == 1
    assert "first bad sequence number 1" in checked.out
    assert f"events 1..{n} are missing: their leaves were marked archived but no signed archive holds them" in checked.out


def test_a_whole_block_archived_by_hand_is_named(attacked_home, auditor, tmp_path):
    _, accesses, _ = findings(auditor, tmp_path)
    kept = copy_of_checkpoints(attacked_home, tmp_path)
    with records_db(attacked_home) as conn:
        # the first block of EHR accesses and everything before it, so that the "archive" is a prefix, as a
        # real one is: the rows' leaves copied, the blocks' leaves unpacked, then rows and blocks deleted
        _, last, _, _, _ = first_block(conn)
        conn.execute("INSERT INTO audit_archived_leaves (seq, leaf_hash, seal) "
                     "SELECT seq, leaf_hash, seal FROM audit_events WHERE seq <= ?", (last,))
        for first, end, leaves, seals in conn.execute("SELECT first_seq, last_seq, leaves, seals FROM "
                                                      "audit_event_blocks WHERE last_seq <= ?", (last,)).fetchall():
            conn.executemany("INSERT INTO audit_archived_leaves (seq, leaf_hash, seal) VALUES (?, ?, ?)",
                             [(first + i, leaves[32 * i : 32 * i + 32], seals[32 * i : 32 * i + 32])
                              for i in range(end - first + 1)])
        conn.execute("DELETE FROM audit_events WHERE seq <= ?", (last,))
        conn.execute("DELETE FROM audit_event_blocks WHERE last_seq <= ?", (last,))
    _, left, _ = findings(auditor, tmp_path, "after.json")
    assert left < accesses  # the events are gone from the database: only verify can tell
    checked = verify(auditor, kept)
    assert checked.code == 1
    assert "first bad sequence number 1\n" in checked.out
    assert f"events 1..{last} are missing: their leaves were marked archived but no signed archive holds them" \
        in checked.out, checked.out


def test_a_forged_archive_record_vouches_for_nothing(attacked_home, auditor, tmp_path):
    with records_db(attacked_home) as conn:
        n = _leading_rows(conn, 10)
        conn.execute("INSERT INTO audit_archived_leaves (seq, leaf_hash, seal) "
                     "SELECT seq, leaf_hash, seal FROM audit_events WHERE seq <= ?", (n,))
        conn.execute("DELETE FROM audit_events WHERE seq <= ?", (n,))
        conn.execute("INSERT INTO audit_archives (first_seq, last_seq, before_us, file_name, file_sha256, root, "
                     "created_us, signature) VALUES (1, ?, 0, 'audit-2019.jsonl', ?, ?, 0, ?)",
                     (n, "0" * 64, b"\x00" * 32, b"\x01" * 64))
    checked = verify(auditor)
    assert checked.code == 1
    assert "archive-forged" in checked.out and "is not signed by this vault's keyring" in checked.out
    assert f"events 1..{n} are missing" in checked.out


# -- 3. inside a block ---------------------------------------------------------------------------------
def _rewrite_block(conn, first, table: pa.Table, leaves: list[bytes], seals: list[bytes], last: int) -> None:
    conn.execute("UPDATE audit_event_blocks SET events = ?, leaves = ?, seals = ?, last_seq = ? WHERE first_seq = ?",
                 (blocks.encode_table(table), b"".join(leaves), b"".join(seals), last, first))


def test_events_dropped_inside_a_block_are_named_exactly(attacked_home, auditor, tmp_path):
    kept = copy_of_checkpoints(attacked_home, tmp_path)
    with records_db(attacked_home) as conn:
        first, last, events, leaves, seals = first_block(conn)
        table = blocks.decode(events, first, last)
        at = 100  # events first+100 .. first+104 go; the header shrinks to match, leaves and seals with them
        keep = [i for i in range(table.num_rows) if not at <= i < at + 5]
        split = lambda packed: [packed[32 * i : 32 * i + 32] for i in keep]  # noqa: E731
        _rewrite_block(conn, first, table.take(keep), split(leaves), split(seals), last - 5)
    checked = verify(auditor, kept)
    assert checked.code == 1
    gone = first + at
    assert f"seq {gone}: deleted: events {gone}..{gone + 4} are missing (deleted)" in checked.out
    assert f"seq {first}: block-header: the header of the block of events {first}..{last - 5} was altered" in checked.out
    assert f"{last - 4}..{last}" not in checked.out  # not blamed on the block's tail


def test_two_events_swapped_inside_a_block_are_named_as_moved(attacked_home, auditor, tmp_path):
    kept = copy_of_checkpoints(attacked_home, tmp_path)
    with records_db(attacked_home) as conn:
        first, last, events, leaves, seals = first_block(conn)
        table = blocks.decode(events, first, last)
        order = list(range(table.num_rows))
        order[200], order[201] = 201, 200  # leaves and seals move with their events
        split = lambda packed: [packed[32 * i : 32 * i + 32] for i in order]  # noqa: E731
        _rewrite_block(conn, first, table.take(order), split(leaves), split(seals), last)
    checked = verify(auditor, kept)
    assert checked.code == 1
    a = first + 200
    assert f"seq {a}: moved: events {a}, {a + 1} are not where their own sequence numbers put them" in checked.out
    assert "fork" not in checked.out


def test_values_planted_behind_a_null_count_that_says_none_are_named(attacked_home, auditor, tmp_path):
    """A column no event of the block has a value in (the detail, say) given one in every row, its
    validity bitmap set and its Arrow null count left saying all are null, the leaves and seals as they
    were: whatever computes on the null count sees nothing changed, whatever reads the values sees them.
    The block is checked against its own metadata when decoded, so verify names every event of it."""
    kept = copy_of_checkpoints(attacked_home, tmp_path)
    with records_db(attacked_home) as conn:
        first, last, events, leaves, seals = first_block(conn)
        table = blocks.decode(events, first, last)
        name = next(f.name for f in blocks.SCHEMA if pa.types.is_string(f.type)
                    and table[f.name].null_count == table.num_rows)
        planted = pa.array([f"planted {i}" for i in range(table.num_rows)], pa.string())
        bitmap = pa.py_buffer(b"\xff" * ((table.num_rows + 7) // 8))
        lying = pa.Array.from_buffers(pa.string(), table.num_rows, [bitmap, *planted.buffers()[1:]],
                                      null_count=table.num_rows)
        conn.execute("UPDATE audit_event_blocks SET events = ? WHERE first_seq = ?",
                     (blocks.encode_table(table.set_column(blocks.SCHEMA.names.index(name), name, lying)), first))
    checked = verify(auditor, kept)
    assert checked.code == 1
    assert f"seq {first}: edited: events {first}..{last}: their block cannot be decoded" in checked.out


# -- 4. treatment data ---------------------------------------------------------------------------------
def _unexplained(found):
    return [f for f in found if f["rule"] == "no-treatment-relationship" and f["mrn"]]


def test_care_team_rows_slipped_in_are_named_and_the_report_says_so(attacked_home, auditor, tmp_path):
    before, _, _ = findings(auditor, tmp_path, "before.json")
    targets = _unexplained(before)[:5]
    assert len(targets) == 5
    with records_db(attacked_home) as conn:
        for f in targets:  # the user joins the patient's care team, for an hour either side of the access
            at = f["first_at"]
            conn.execute(
                "INSERT INTO care_team (patient_id, workforce_id, role, start, \"end\") "
                "SELECT p.id, w.id, 'nurse', ?, ? FROM workforce w, patients p WHERE w.user_id = ? AND p.id = ?",
                (_us(at) - 3_600_000_000, _us(at) + 3_600_000_000, f["user_id"], _patient_of(conn, f)))
    after, _, _ = findings(auditor, tmp_path, "after.json")
    hidden = {tuple(f["event_ids"]) for f in targets} - {tuple(f["event_ids"]) for f in _unexplained(after)}
    assert len(hidden) == 5  # the engine believed the rows: only verify can tell

    checked = verify(auditor)
    assert checked.code == 1
    assert "ALTERED: 5 row(s) written behind the audited gateway" in checked.out
    assert checked.out.count("row-inserted: care_team row") == 5

    report = auditor("report", "monthly", "--month", "2026-11", "--out", str(tmp_path / "report"), "--no-pdf",
                     user="officer")
    assert report.code == 0, report.err
    html = (tmp_path / "report" / "report.html").read_text()
    assert "ALTERED" in html and "5 row(s) were written" in html


def _us(iso: str) -> int:
    from datetime import datetime

    moment = datetime.fromisoformat(iso)
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def _patient_of(conn, finding) -> int:
    """The internal id of a finding's patient, as the attacker finds it: from the block holding its event."""
    (seq,) = conn.execute("SELECT seq FROM audit_imported_keys WHERE source_event_id = ?",
                          (finding["event_ids"][0],)).fetchone()
    first, last, events = conn.execute("SELECT first_seq, last_seq, events FROM audit_event_blocks "
                                       "WHERE first_seq <= ? AND last_seq >= ?", (seq, seq)).fetchone()
    return blocks.decode(events, first, last)["patient_id"][seq - first].as_py()


@pytest.mark.parametrize("table, change", [
    ("workforce", "UPDATE workforce SET department = 'Everywhere' WHERE id = (SELECT min(id) FROM workforce)"),
    ("patients", "UPDATE patients SET vip = 0 WHERE id = (SELECT min(id) FROM patients WHERE vip = 1)"),
    ("encounters", "UPDATE encounters SET \"end\" = \"end\" + 86400000000 * 400 WHERE id = 1"),
    ("care_team", "DELETE FROM care_team WHERE id = (SELECT min(id) FROM care_team)"),
    ("vault_settings", "UPDATE vault_settings SET value = 'Pacific/Kiritimati' WHERE name = 'organisation_timezone'"),
])
def test_every_table_the_explanations_trust_is_covered(attacked_home, auditor, table, change):
    with records_db(attacked_home) as conn:
        assert conn.execute(change).rowcount == 1
    checked = verify(auditor)
    assert checked.code == 1
    kind = "row-deleted" if change.startswith("DELETE") else "row-edited"
    assert f"{kind}: {table} row" in checked.out
    assert "TAMPERED" not in checked.out  # the log itself is intact: the rows are what changed


# -- 5. unsigned tails ---------------------------------------------------------------------------------
def test_what_findings_appended_is_signed_before_it_returns(attacked_home, auditor, tmp_path):
    with records_db(attacked_home) as conn:
        (before,) = conn.execute("SELECT size FROM audit_log_head").fetchone()
    findings(auditor, tmp_path)  # reads names through the gateway (audited): it appends
    kept = copy_of_checkpoints(attacked_home, tmp_path)
    with records_db(attacked_home) as conn:
        (after,) = conn.execute("SELECT size FROM audit_log_head").fetchone()
    assert after > before
    signed = [json.loads(line)["size"] for line in kept.read_text().splitlines()]
    assert max(signed) == after

    with records_db(attacked_home) as conn:  # the attacker cuts what findings appended
        conn.execute("DELETE FROM audit_events WHERE seq > ?", (before,))
        conn.execute("DELETE FROM audit_event_blocks WHERE first_seq > ?", (before,))
    checked = verify(auditor, kept)
    assert checked.code == 1 and "truncated" in checked.out


def test_a_refused_access_is_signed_too(attacked_home, auditor, tmp_path):
    with records_db(attacked_home) as conn:
        (size,) = conn.execute("SELECT size FROM audit_log_head").fetchone()
    refused = auditor("records", "show", "--mrn", "NO-SUCH-MRN", "--user", "nobody", "--purpose", "TREAT")
    assert refused.code == 2
    with records_db(attacked_home) as conn:
        (after,) = conn.execute("SELECT size FROM audit_log_head").fetchone()
    signed = [json.loads(line)["size"] for line in (attacked_home / "checkpoints.log").read_text().splitlines()]
    assert after == size + 1 and max(signed) == after


# -- and the officer's own mistake: another vault's checkpoint file ---------------------------------------
def test_another_vaults_checkpoint_file_is_one_clear_line(attacked_home, auditor, tmp_path):
    other = tmp_path / "other"
    made = auditor("--home", str(other), "init")
    assert made.code == 0, made.err
    checked = verify(auditor, other / "checkpoints.log")
    assert checked.code == 2
    assert "signed by another vault's key" in checked.err and "None" not in checked.err + checked.out


# -- and the legitimate path: an archive keeps both the log and the ledger whole ------------------------------
def test_a_real_archive_keeps_the_vault_verifiable(auditor, tmp_path, monkeypatch):
    from datetime import datetime, timezone

    from auditor.clock import FixedClock

    monkeypatch.setenv("AUDITOR_HOME", str(tmp_path / "old-home"))
    then = FixedClock(datetime(2018, 12, 5, 9, tzinfo=timezone.utc))
    now = FixedClock(datetime(2026, 12, 3, 9, tzinfo=timezone.utc))
    assert auditor("simulate", "--out", str(tmp_path / "export"), "--seed", "5", "--events", "3000",
                   "--month", "2018-11").code == 0
    assert auditor("init", clock=then).code == 0
    assert auditor("ingest", str(tmp_path / "export"), "--tz", "America/New_York", clock=then).code == 0

    archived = auditor("audit", "archive", "--before", "2019-06-01", "--out", str(tmp_path / "2018.jsonl"), clock=now,
                       user="records")
    assert archived.code == 0, archived.err
    checked = auditor("audit", "verify", clock=now)
    assert checked.code == 0, checked.out  # the rows whose ledger events left were recorded again first
    assert auditor("audit", "verify-archive", str(tmp_path / "2018.jsonl"), clock=now).code == 0


def test_a_moved_block_header_hides_no_access_from_a_case_timeline(attacked_home, auditor, tmp_path):
    """The case page reads only the blocks its windows meet, chosen by their headers (from the headers'
    covering index, r0016) for what no kept part covers: a header moved away from its events must not
    take them off the timeline (read here from the log alone)."""
    from auditor.cases.settings import CaseSettings
    from auditor.home import Vault
    from auditor.review.casework import case_file, list_cases
    from auditor.review.timeline import member_timeline

    findings(auditor, tmp_path)  # the month's findings into cases

    def timelines():
        vault = Vault.open(attacked_home)
        try:
            cases = list_cases(vault, CaseSettings())[:6]
            return {c.id: [e.seq for e in member_timeline(vault, case_file(vault, c.id, CaseSettings()),
                                                          stored=False).entries]
                    for c in cases}
        finally:
            vault.close()

    before = timelines()
    assert sum(map(len, before.values())) > 0
    with records_db(attacked_home) as conn:
        conn.execute("UPDATE audit_event_blocks SET first_at_us = 0, last_at_us = 0")
    assert timelines() == before

"""Issue 19, section 3: a month's export for a cluster holds exactly what the log holds. Each test is
what an attacker does, with the export folder on its way to the cluster (a shared drive, an object
store) or with write access to records.db before the export, then what `auditor export check` (the
check the cluster's job runs) or `auditor export month` says.

The vault: a simulated month ingested and audited through the CLI (tests/adversarial/conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from auditor.audit import blocks
from auditor.audit.checkpoints import key_fingerprint
from auditor.cluster.month_export import signed_message
from auditor.home import Vault
from tests.adversarial.conftest import records_db
from tests.cluster.variants import sign_again


@pytest.fixture
def exported(attacked_home, auditor, tmp_path):
    folder = tmp_path / "nov"
    done = auditor("export", "month", "--month", "2026-11", "--parquet", folder, user="officer")
    assert done.code == 0, done.err
    assert "written to" in done.out and "--public-key" in done.out
    assert auditor("export", "check", folder).code == 0
    return folder


def _refused(auditor, folder, reason: str, *args):
    result = auditor("export", "check", folder, *args)
    assert result.code == 1, result.out
    assert result.out.startswith("REFUSED: ") and reason in result.out, result.out
    return result


def _days(folder):
    return json.loads((folder / "manifest.json").read_text())["events"]["days"]


def _rewrite(path, table):
    pq.write_table(table, path, compression="zstd")


def test_an_untouched_export_checks_against_the_vaults_key_given_as_hex(exported, auditor, attacked_home):
    vault = Vault.open(attacked_home)
    key = vault.keyring.signing_public_key.hex()
    vault.close()
    result = auditor("export", "check", exported, "--public-key", key)
    assert result.code == 0 and result.out.startswith("OK: ") and "as the vault signed them" in result.out


def test_an_event_edited_in_the_parquet_is_refused(exported, auditor):
    day = _days(exported)[10]
    table = pq.read_table(exported / day["file"])
    users = table["user_id"].to_pylist()
    users[3] = "someone.else"  # whose access it was
    _rewrite(exported / day["file"], table.set_column(table.schema.get_field_index("user_id"), "user_id",
                                                      pa.array(users, pa.string())))
    _refused(auditor, exported, f"{day['file']}: its events' Merkle root is not the one the vault signed")


def test_an_event_removed_is_refused_and_so_is_a_manifest_changed_to_match(exported, auditor):
    day = _days(exported)[5]
    table = pq.read_table(exported / day["file"])
    _rewrite(exported / day["file"], table.slice(1))  # the day's first access, gone
    _refused(auditor, exported, f"holds {day['events'] - 1} events, the manifest says {day['events']}")
    document = json.loads((exported / "manifest.json").read_text())
    entry = next(d for d in document["events"]["days"] if d["day"] == day["day"])
    entry["events"] -= 1
    entry["first_seq"] = table["seq"][1].as_py()
    (exported / "manifest.json").write_text(json.dumps(document))
    _refused(auditor, exported, "its signature does not verify: it was changed after the export")


def test_an_event_moved_to_another_day_is_refused(exported, auditor):
    a, b = _days(exported)[8], _days(exported)[9]
    ta, tb = pq.read_table(exported / a["file"]), pq.read_table(exported / b["file"])
    moved = ta.slice(ta.num_rows - 1)
    _rewrite(exported / a["file"], ta.slice(0, ta.num_rows - 1))
    _rewrite(exported / b["file"], pa.concat_tables([moved, tb]))
    _refused(auditor, exported, a["file"])


def test_a_file_added_to_the_events_is_refused(exported, auditor):
    day = _days(exported)[3]
    extra = exported / "events" / "day=2026-11-31"
    extra.mkdir()
    shutil.copyfile(exported / day["file"], extra / "part-0.parquet")  # a reader of the folder would count it twice
    _refused(auditor, exported, "events/day=2026-11-31/part-0.parquet: a file the manifest does not list")


def test_a_day_replaced_by_a_link_is_refused(exported, auditor, tmp_path):
    day = _days(exported)[2]
    elsewhere = tmp_path / "elsewhere.parquet"
    shutil.move(exported / day["file"], elsewhere)
    os.symlink(elsewhere, exported / day["file"])
    _refused(auditor, exported, f"{day['file']}: a link, not a file of the export")


def test_context_edited_is_refused(exported, auditor):
    path = exported / "context" / "workforce.parquet"
    table = pq.read_table(path)
    departments = pc.if_else(pc.equal(table["role"], "nurse"), "Oncology", table["department"])
    _rewrite(path, table.set_column(table.schema.get_field_index("department"), "department", departments))
    _refused(auditor, exported, "context/workforce.parquet: its SHA-256 is not the one the vault signed")


def test_a_manifest_resigned_with_another_key_is_refused(exported, auditor):
    document = json.loads((exported / "manifest.json").read_text())
    document.pop("signature")
    theirs = Ed25519PrivateKey.generate()
    document["key"] = key_fingerprint(theirs.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    document["signature"] = theirs.sign(signed_message(document)).hex()
    (exported / "manifest.json").write_text(json.dumps(document))
    _refused(auditor, exported, f"is signed by key '{document['key']}', not by this vault's")


def test_a_checkpoint_whose_own_signature_fails_is_refused_though_the_manifest_verifies(exported, auditor,
                                                                                      attacked_home):
    """The manifest carries the log's checkpoint, signed on its own (so `audit verify` can later prove the
    log still holds what was exported). A checkpoint changed, even inside a manifest the vault's own key
    signed again, is refused: its signature is checked, not only the manifest's."""
    sign_again(exported, attacked_home, lambda document: document["checkpoint"].update(size=document["checkpoint"]["size"] + 1))
    _refused(auditor, exported, "manifest.json: its checkpoint's signature does not verify")


def test_an_event_edited_in_the_database_before_the_export_is_never_exported(attacked_home, auditor, tmp_path):
    with records_db(attacked_home) as conn:
        first_seq, last_seq, events, leaves, seals = conn.execute(
            "SELECT first_seq, last_seq, events, leaves, seals FROM audit_event_blocks WHERE source = 'ehr' "
            "ORDER BY first_seq LIMIT 1").fetchone()
        table = blocks.decode(events, first_seq, last_seq)
        users = table["user_id"].to_pylist()
        users[0] = "someone.else"
        edited = table.set_column(table.schema.get_field_index("user_id"), "user_id", pa.array(users, pa.string()))
        conn.execute("UPDATE audit_event_blocks SET events = ? WHERE first_seq = ?",
                     (blocks.encode_table(edited), first_seq))
    result = auditor("export", "month", "--month", "2026-11", "--parquet", tmp_path / "nov", user="officer")
    assert result.code == 2 and result.err.count("\n") == 1
    assert f"audit event {first_seq} does not match its leaf hash: nothing was exported" in result.err
    assert not (tmp_path / "nov").exists() and not list(tmp_path.glob(".nov.*"))


def test_a_full_disk_leaves_no_export_and_records_none(attacked_home, auditor, full_disk):
    result = auditor("export", "month", "--month", "2026-11", "--parquet", full_disk / "nov", user="officer")
    assert result.code == 2 and result.err.startswith("auditor: cannot write") and result.err.count("\n") == 1
    assert sorted(p.name for p in full_disk.iterdir()) == [".filler"]
    with records_db(attacked_home) as conn:
        assert conn.execute("SELECT count(*) FROM audit_events WHERE action = 'export' "
                            "AND record_type = 'audit_log'").fetchone() == (0,)

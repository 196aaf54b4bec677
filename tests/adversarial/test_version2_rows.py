"""An attacker with write access to records.db against contract version 2's context: an order, an
appointment or a signed document explains an access, so a forged order by the snooping user, a
cancelled appointment marked booked or a note dated into the window would explain a snoop away, and
a deleted one would leave a legitimate access unexplained. The three tables are in the ledger of
trusted rows: `auditor audit verify` names each row inserted, edited or deleted behind the gateway."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from auditor.cli import main
from tests.ingest import interchange_data as data

BILLING = "(SELECT id FROM workforce WHERE user_id = 'b.ilse')"  # a billing clerk with no reason to read charts


@pytest.fixture(scope="module")
def version2_home(tmp_path_factory) -> Path:
    """A vault with the small export and its version-2 files ingested through the CLI, made once."""
    root = tmp_path_factory.mktemp("version2")
    export = data.write_version2(data.write_export(root / "export"))
    for args in (["init"], ["ingest", str(export), "--tz", "America/New_York"]):
        try:
            main(["--home", str(root / "home"), *args])
        except SystemExit as exc:
            assert exc.code == 0, args
    return root / "home"


@pytest.fixture
def home(version2_home, auditor, tmp_path) -> Path:
    """A private copy, at the home the `auditor` fixture runs in (every path in it is relative)."""
    shutil.copytree(version2_home, tmp_path / "home")
    return tmp_path / "home"


def test_the_gateway_s_rows_verify(home, auditor):
    checked = auditor("audit", "verify")
    assert checked.code == 0 and "OK" in checked.out, checked.out


@pytest.mark.parametrize("table, change, kind", [
    ("orders", "INSERT INTO orders (source, source_id, patient_id, ordering_id, type, placed_at) "
               f"SELECT 'ehr', 'FORGED', patient_id, {BILLING}, 'lab', placed_at FROM orders LIMIT 1", "row-inserted"),
    ("orders", f"UPDATE orders SET ordering_id = {BILLING} WHERE source_id = 'O1'", "row-edited"),
    ("orders", "UPDATE orders SET completed_at = completed_at + 86400000000 * 200 WHERE source_id = 'O1'",
     "row-edited"),  # the window stretched by 200 days
    ("orders", "DELETE FROM orders WHERE source_id = 'O2'", "row-deleted"),
    ("appointments", "INSERT INTO appointments (source, source_id, patient_id, provider_id, status, booked_at, "
                     f"scheduled_for) SELECT 'ehr', 'FORGED', patient_id, {BILLING}, 'booked', booked_at, "
                     "scheduled_for FROM appointments LIMIT 1", "row-inserted"),
    ("appointments", "UPDATE appointments SET status = 'booked' WHERE status = 'cancelled'", "row-edited"),
    ("appointments", "DELETE FROM appointments WHERE source_id = 'AP1'", "row-deleted"),
    ("authored_documents", "INSERT INTO authored_documents (source, source_id, patient_id, author_id, record_type, "
                           f"signed_at) SELECT 'ehr', 'FORGED', patient_id, {BILLING}, 'note', signed_at "
                           "FROM authored_documents LIMIT 1", "row-inserted"),
    ("authored_documents", "UPDATE authored_documents SET signed_at = signed_at + 86400000000 * 30", "row-edited"),
    ("authored_documents", "DELETE FROM authored_documents", "row-deleted"),
])
def test_a_row_changed_behind_the_gateway_is_named(home, auditor, table, change, kind):
    with closing(sqlite3.connect(home / "records.db")) as conn:
        before = set(conn.execute(f"SELECT * FROM {table}"))
        assert conn.execute(change).rowcount == 1
        conn.commit()
        after = set(conn.execute(f"SELECT * FROM {table}"))
    (key,) = {row[0] for row in before ^ after}  # the one row inserted, edited or deleted
    checked = auditor("audit", "verify")
    assert "TAMPERED" not in checked.out  # the log itself is intact: the row is what changed
    assert checked.code == 1 and f"{kind}: {table} row {key} " in checked.out, checked.out

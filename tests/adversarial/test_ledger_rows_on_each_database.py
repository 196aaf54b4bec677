"""Someone with write access to the records database flips a patient's VIP flag and deletes an
encounter (the engine's rules read both), on SQLite and on PostgreSQL. `audit verify` reads every
ledger row (on PostgreSQL through psycopg's own named cursor, auditor.database.server_cursor_rows)
and names both rows; the gateway's own writes verify."""

from __future__ import annotations

from sqlalchemy import text

from auditor.vault.integrity import row_problems, verify_vault
from tests.policy.vault_data import populate


def _rows(vault) -> list[tuple[str, str]]:
    result = verify_vault(vault.records, vault.keyring, [vault.checkpoints.path])
    return sorted((p.kind, p.message) for p in row_problems(result))


def test_rows_edited_or_deleted_behind_the_gateway_are_named_on_each_database(vault):
    edited = min(populate(vault).values())
    assert _rows(vault) == []  # the gateway's own writes
    with vault.records.begin() as conn:
        deleted = conn.execute(text("SELECT min(id) FROM encounters")).scalar_one()
        conn.execute(text("UPDATE patients SET vip = NOT vip WHERE id = :id"), {"id": edited})
        conn.execute(text("DELETE FROM encounters WHERE id = :id"), {"id": deleted})
    named = _rows(vault)
    assert [kind for kind, _ in named] == ["row-deleted", "row-edited"], named
    assert f"encounters row {deleted} was deleted behind the gateway" in named[0][1]
    assert f"patients row {edited} was edited behind the gateway" in named[1][1]

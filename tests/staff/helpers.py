"""Reading what the staff desk left in the vault: its audit events, and the verification of the log
with the ledger's rows."""

from __future__ import annotations

from sqlalchemy import select

from auditor.audit.log import EVENTS
from auditor.vault.integrity import verify_vault


def staff_events(vault) -> list[tuple[str, str, str | None, str]]:
    """(action, outcome, record_type, detail) of svc:staff's events other than the ledger's, in order."""
    with vault.records.connect() as conn:
        rows = conn.execute(select(EVENTS.c.action, EVENTS.c.outcome, EVENTS.c.record_type, EVENTS.c.detail)
                            .where(EVENTS.c.user_id == "svc:staff", EVENTS.c.record_type.not_like("table:%"))
                            .order_by(EVENTS.c.seq)).all()
    return [tuple(r) for r in rows]


def verified(vault):
    return verify_vault(vault.records, vault.keyring, [vault.checkpoints.path])

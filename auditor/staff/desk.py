"""The staff service desk: every change to an account or a session is one audited transaction through
the gateway as svc:staff (auditor.vault.gateway.service_work), its audit events and the account row's
ledger event written with it or not at all. The account that acted is named in each event's detail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, TypeVar

from sqlalchemy import delete, insert, select, update

from auditor.home import Vault
from auditor.staff import roles as staff_roles
from auditor.staff.seals import StaffSeals
from auditor.vault.gateway.context import AccessContext
from auditor.vault.gateway.service_work import ServiceChange, ServiceDesk
from auditor.vault.records import STAFF_SEALED, StaffAccount, StaffSession

SERVICE = "staff"
ACCOUNTS = StaffAccount.__table__
SESSIONS = StaffSession.__table__
T = TypeVar("T")


@dataclass(frozen=True)
class Account:
    """A staff account as the office sees it (no secret)."""

    id: int
    user_name: str
    roles: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None
    locked_until: datetime | None

    def holds(self, *roles: str) -> bool:
        return bool(set(roles) & set(self.roles))

    def status(self, now: datetime) -> str:
        if self.disabled_at is not None:
            return "disabled"
        return "locked" if self.locked_until is not None and self.locked_until > now else "active"


def account_of(row) -> Account:
    return Account(row.id, row.user_name, staff_roles.loaded(row.roles), row.created_at, row.disabled_at,
                   row.locked_until)


class StaffChange(ServiceChange):
    """One audited transaction of staff work, with the row reads and writes that keep each row's seal."""

    SEALED = STAFF_SEALED
    KIND = "staff"
    seals: StaffSeals

    def account_row(self, *, account_id: int | None = None, user_name: str | None = None):
        where = ACCOUNTS.c.id == account_id if account_id is not None else ACCOUNTS.c.user_name == user_name
        return self.session.execute(select(ACCOUNTS).where(where)).first()

    def sealed_correctly(self, row) -> bool:
        return self.seals.matches(self.seals.account(row._mapping), row.seal)

    def insert_account(self, values: dict) -> None:
        self.session.execute(insert(ACCOUNTS).values(**values, seal=self.seals.account(values)))
        self.record_rows("staff_accounts", "create", [values["id"]])

    def update_account(self, row, **changes) -> None:
        """Write `changes` to the account's row, its seal recomputed, and record the row in the ledger."""
        values = {**row._mapping, **changes}
        self.session.execute(update(ACCOUNTS).where(ACCOUNTS.c.id == row.id)
                             .values(**changes, seal=self.seals.account(values)))
        self.record_rows("staff_accounts", "update", [row.id])

    def insert_session(self, values: dict) -> None:
        self.session.execute(insert(SESSIONS).values(**values, seal=self.seals.session(values)))

    def end_sessions(self, account_id: int | None = None, session_id: int | None = None) -> int:
        where = SESSIONS.c.account_id == account_id if account_id is not None else SESSIONS.c.id == session_id
        return self.session.execute(delete(SESSIONS).where(where)).rowcount


class StaffDesk(ServiceDesk[StaffChange]):
    """Audited staff transactions, as svc:staff for operations (HOPERAT)."""

    CHANGE = StaffChange

    def __init__(self, vault: Vault) -> None:
        super().__init__(vault.gateway, AccessContext.service(SERVICE))
        self.vault = vault
        self.seals = StaffSeals(vault.keyring.index_root_key)

    def change(self, action: str, work: Callable[[StaffChange], T]) -> T:
        def sealed_work(change: StaffChange) -> T:
            change.seals = self.seals
            return work(change)

        return super().change(action, sealed_work)

"""Staff account administration: add, disable, enable, change roles, reset a password; list.

The first account of a vault is an admin, added by whoever holds the home (its keyring and databases)
with no one signed in: there is no one yet to sign in as. From then on only a signed-in admin changes
accounts (auditor.staff.sessions.SignedIn; the CLI's `users` commands and the web app's Accounts page
check it), and the vault keeps at least one active admin: the last cannot be disabled or demoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from sqlalchemy import select

from auditor.crypto.envelope import new_key_id
from auditor.errors import InputError, NotFound, NotPermitted
from auditor.home import Vault
from auditor.staff import roles as staff_roles
from auditor.staff import totp
from auditor.staff.desk import ACCOUNTS, Account, StaffChange, StaffDesk, account_of
from auditor.staff.passwords import PasswordHashing, check_new_password

USER_NAME_SIZE = 64
FIRST_ADMIN = "the holder of the vault home"  # who added the first admin, as the audit log names them


@dataclass(frozen=True)
class Enrolment:
    """A new account (or a new second factor): the otpauth:// URI to load into an authenticator app.
    It holds the TOTP secret: shown once, to the person it belongs to, never stored in the clear."""

    account: Account
    otpauth_uri: str


def check_user_name(user_name: str) -> str:
    name = user_name.strip()
    if not name or len(name) > USER_NAME_SIZE or not all(c.isalnum() or c in "._-@" for c in name):
        raise InputError(f"a user name is 1 to {USER_NAME_SIZE} letters, digits and . _ - @")
    return name


class StaffAccounts:
    """Account administration over one vault. `by`: the signed-in admin acting (None only for the
    first admin of a vault that has no active admin)."""

    def __init__(self, vault: Vault, hashing: PasswordHashing | None = None) -> None:
        self.vault = vault
        self.desk = StaffDesk(vault)
        self.hashing = hashing or PasswordHashing()

    # -- reading ------------------------------------------------------------------------------------
    def list(self) -> list[Account]:
        with self.vault.records.connect() as conn:
            return [account_of(r) for r in conn.execute(select(ACCOUNTS).order_by(ACCOUNTS.c.user_name))]

    def full_names(self, accounts: list[Account]) -> dict[int, str]:
        """The accounts' full names (sealed: a copy of the database does not list the office's people).
        A staff member's name is not PHI; reading it is not an audited access."""
        with self.vault.records.connect() as conn:
            rows = conn.execute(select(ACCOUNTS.c.id, ACCOUNTS.c.full_name)
                                .where(ACCOUNTS.c.id.in_([a.id for a in accounts]))).all()
        return {r.id: self.vault.envelope.open(r.full_name, "staff_accounts", "full_name", r.id) for r in rows}

    def has_active_admin(self) -> bool:
        return any(a.holds(staff_roles.ADMIN) and a.disabled_at is None for a in self.list())

    # -- changing -------------------------------------------------------------------------------------
    def add(self, user_name: str, full_name: str, roles: tuple[str, ...], password: str, by: Account | None) -> Enrolment:
        name = check_user_name(user_name)
        roles = staff_roles.parse_roles(roles)
        password = check_new_password(password, name)
        if not full_name.strip():
            raise InputError("give the person's full name (--name)")
        first = by is None
        if first and staff_roles.ADMIN not in roles:
            raise InputError("the vault has no admin yet: the first account must hold the admin role")
        password_hash = self.hashing.hash(password)  # slow: outside the transaction
        secret = totp.new_secret()

        def work(change: StaffChange) -> Account:
            if first and self._active_admins(change):
                raise NotPermitted("the vault has an admin: sign in as an admin (auditor login) to add accounts")
            self._check_admin(change, by)
            if change.account_row(user_name=name) is not None:
                raise InputError(f"an account named {name} exists already")
            account_id, key_id = new_key_id(), change.new_key("staff")
            values = {"id": account_id, "user_name": name, "roles": staff_roles.stored(roles), "data_key_id": key_id,
                      "full_name": change.seal(key_id, "staff_accounts", "full_name", account_id, full_name.strip()),
                      "password_hash": password_hash,
                      "totp_secret": change.seal(key_id, "staff_accounts", "totp_secret", account_id, secret),
                      "totp_last_step": None, "failed_logins": 0, "locked_until": None, "created_at": change.at,
                      "disabled_at": None}
            change.insert_account(values)
            change.record("staff_account", account_id,
                          f"account {name} added with role(s) {', '.join(roles)} by {_who(by)}", action="create")
            return account_of(change.account_row(account_id=account_id))

        account = self.desk.change("create", work)
        return Enrolment(account, totp.provisioning_uri(secret, name))

    def disable(self, user_name: str, by: Account) -> Account:
        """Disable an account and end its sessions (45 CFR 164.308(a)(3)(ii)(C): access ends with the job)."""

        def work(change: StaffChange) -> Account:
            row = self._target(change, user_name, by)
            if row.disabled_at is not None:
                raise InputError(f"account {row.user_name} is disabled already")
            self._keep_an_admin(change, row, staff_roles.loaded(row.roles), disabling=True)
            change.update_account(row, disabled_at=change.at)
            ended = change.end_sessions(account_id=row.id)
            change.record("staff_account", row.id, f"account {row.user_name} disabled by {_who(by)}; "
                                                   f"{ended} session(s) ended", action="update")
            return account_of(change.account_row(account_id=row.id))

        return self.desk.change("update", work)

    def enable(self, user_name: str, by: Account) -> Account:
        def work(change: StaffChange) -> Account:
            row = self._target(change, user_name, by)
            if row.disabled_at is None:
                raise InputError(f"account {row.user_name} is not disabled")
            change.update_account(row, disabled_at=None, failed_logins=0, locked_until=None)
            change.record("staff_account", row.id, f"account {row.user_name} enabled by {_who(by)}", action="update")
            return account_of(change.account_row(account_id=row.id))

        return self.desk.change("update", work)

    def set_roles(self, user_name: str, roles: tuple[str, ...], by: Account) -> Account:
        roles = staff_roles.parse_roles(roles)

        def work(change: StaffChange) -> Account:
            row = self._target(change, user_name, by)
            self._keep_an_admin(change, row, roles, disabling=False)
            change.update_account(row, roles=staff_roles.stored(roles))
            change.record("staff_account", row.id, f"account {row.user_name} role(s) {', '.join(roles)} "
                                                   f"(were {row.roles.replace(',', ', ')}) by {_who(by)}", action="update")
            return account_of(change.account_row(account_id=row.id))

        return self.desk.change("update", work)

    def reset_password(self, user_name: str, password: str, by: Account, new_code: bool = False) -> Enrolment | Account:
        """A new password (the lock lifted, every session ended); with `new_code`, a new TOTP secret too
        (a lost phone), returned as an Enrolment."""
        name = check_user_name(user_name)
        password_hash = self.hashing.hash(check_new_password(password, name))
        secret = totp.new_secret() if new_code else None

        def work(change: StaffChange) -> Account:
            row = self._target(change, name, by)
            changes = {"password_hash": password_hash, "failed_logins": 0, "locked_until": None}
            if secret is not None:
                changes |= {"totp_secret": change.seal(row.data_key_id, "staff_accounts", "totp_secret", row.id, secret),
                            "totp_last_step": None}
            change.update_account(row, **changes)
            ended = change.end_sessions(account_id=row.id)
            what = "password and TOTP secret" if secret else "password"
            change.record("staff_account", row.id, f"account {row.user_name} {what} reset by {_who(by)}; "
                                                   f"{ended} session(s) ended", action="update")
            return account_of(change.account_row(account_id=row.id))

        account = self.desk.change("update", work)
        return Enrolment(account, totp.provisioning_uri(secret, name)) if secret else account

    # -- rules ----------------------------------------------------------------------------------------
    @staticmethod
    def _active_admins(change: StaffChange) -> list:
        rows = change.session.execute(select(ACCOUNTS.c.id, ACCOUNTS.c.roles).where(ACCOUNTS.c.disabled_at.is_(None))).all()
        return [r.id for r in rows if staff_roles.ADMIN in staff_roles.loaded(r.roles)]

    @staticmethod
    def _check_admin(change: StaffChange, by: Account | None) -> None:
        """`by` must be an admin now, as the database says (a role taken away since the session began counts)."""
        if by is None:
            return
        row = change.account_row(account_id=by.id)
        if (row is None or row.disabled_at is not None or not change.sealed_correctly(row)
                or staff_roles.ADMIN not in staff_roles.loaded(row.roles)):
            raise NotPermitted("only an admin changes staff accounts")

    def _target(self, change: StaffChange, user_name: str, by: Account):
        self._check_admin(change, by)
        row = change.account_row(user_name=user_name.strip())
        if row is None:
            raise NotFound(f"no staff account named {user_name.strip()}")
        return row

    def _keep_an_admin(self, change: StaffChange, row, roles: tuple[str, ...], disabling: bool) -> None:
        admins = self._active_admins(change)
        losing = row.id in admins and (disabling or staff_roles.ADMIN not in roles)
        if losing and len(admins) == 1:
            raise InputError(f"{row.user_name} is the last active admin: add another admin first")


def _who(by: Account | None) -> str:
    return FIRST_ADMIN if by is None else f"admin {by.user_name}"


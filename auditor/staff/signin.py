"""Signing in: a password, then a TOTP code (RFC 6238), for the browser and the CLI alike.

Five failures in a row (a wrong password, a wrong or reused code) lock the account for 15 minutes;
a locked or disabled account is refused whatever is typed. Every refusal is an audit event saying
why (action login_failed, outcome denied) while the person is told only that the sign-in failed.
The Argon2id verification runs before the transaction: an attempt holds no lock while it hashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from auditor.clock import Clock
from auditor.database import read_snapshot
from auditor.errors import SignInRefused, SignInRequired
from auditor.home import Vault
from auditor.staff import totp
from auditor.staff.desk import ACCOUNTS, StaffChange
from auditor.staff.passwords import PasswordHashing
from auditor.staff.sessions import CODE, SIGNED_IN, NewSession, SessionPolicy, StaffSessions

LOCK_AFTER = 5  # failures in a row (164.308(a)(5)(ii)(C): log-in monitoring)
LOCK_FOR = timedelta(minutes=15)
REFUSED = "sign-in refused: the user name, password or code is wrong, or the account is locked or disabled"


@dataclass(frozen=True)
class Outcome:
    session: NewSession | None
    refusal: str | None = None  # for the audit log, never shown


class StaffSignIn:
    def __init__(self, vault: Vault, hashing: PasswordHashing | None = None, policy: SessionPolicy | None = None,
                 clock: Clock | None = None) -> None:
        self.sessions = StaffSessions(vault, policy, clock)
        self.desk = self.sessions.desk
        self.hashing = hashing or PasswordHashing()
        self.vault = vault

    def password(self, user_name: str, password: str, kind: str) -> NewSession:
        """Check the password: a session awaiting its code (stage "code"), or SignInRefused."""
        with self.vault.records.connect() as conn:
            read_snapshot(conn)
            seen = conn.execute(select(ACCOUNTS.c.id, ACCOUNTS.c.password_hash)
                                .where(ACCOUNTS.c.user_name == user_name.strip())).first()
        if seen is None:
            self.hashing.dummy_verify(password)
        right = seen is not None and self.hashing.verify(seen.password_hash, password)
        rehashed = self.hashing.hash(password) if right and self.hashing.needs_rehash(seen.password_hash) else None

        def work(change: StaffChange) -> Outcome:
            if seen is None:
                change.record("staff_account", None, "sign-in refused: no such account", action="login_failed",
                              outcome="denied")
                return Outcome(None, "no such account")
            row = change.account_row(account_id=seen.id)
            refusal = self._refusal(change, row)
            if refusal is None and (not right or row.password_hash != seen.password_hash):
                refusal = self._failure(change, row, "wrong password")
            if refusal is not None:
                return Outcome(None, refusal)
            if rehashed is not None:  # Argon2 parameters changed since this hash was made: made anew
                change.update_account(row, password_hash=rehashed)
                change.record("staff_account", row.id, f"account {row.user_name} password rehashed with the current "
                                                       "Argon2id parameters", action="update")
            return Outcome(self.sessions.open(change, row.id, kind, CODE))

        return self._settled(self.desk.change("update", work))

    def code(self, pending_token: str | None, code: str, kind: str) -> NewSession:
        """Check the TOTP code of a session awaiting it: a new signed-in session (a new token: the one
        that carried the password step is ended), or SignInRefused."""
        found = self.sessions.find(pending_token, kind, stage=CODE)
        if found is None:
            raise SignInRequired("the sign-in has expired: start again with the password")
        pending, _ = found
        if self.sessions.clock.now() - pending.created_at >= self.sessions.policy.code_wait:
            self.sessions.end(pending.id, "sign-in abandoned: no code within "
                                          f"{int(self.sessions.policy.code_wait.total_seconds() // 60)} minutes")
            raise SignInRequired("the sign-in has expired: start again with the password")

        def work(change: StaffChange) -> Outcome:
            row = change.account_row(account_id=pending.account_id)
            refusal = self._refusal(change, row)
            if refusal is not None:
                change.end_sessions(session_id=pending.id)
                return Outcome(None, refusal)
            secret = self.vault.envelope.open(row.totp_secret, "staff_accounts", "totp_secret", row.id)
            step = totp.matching_step(secret, code, change.at)
            if step is None:
                return Outcome(None, self._failure(change, row, "wrong code"))
            used = change.session.execute(update(ACCOUNTS).where(
                ACCOUNTS.c.id == row.id, or_(ACCOUNTS.c.totp_last_step.is_(None), ACCOUNTS.c.totp_last_step < step)
            ).values(totp_last_step=step)).rowcount == 0
            if used:  # RFC 6238 §5.2: a code is accepted once
                return Outcome(None, self._failure(change, row, "code already used"))
            row = change.account_row(account_id=row.id)
            change.update_account(row, failed_logins=0, locked_until=None)
            change.end_sessions(session_id=pending.id)
            session = self.sessions.open(change, row.id, kind, SIGNED_IN)
            swept = self.sessions.sweep(change, row.id)
            gone = f"; {swept} ended session(s) of the account removed" if swept else ""
            change.record("staff_session", session.session_id, f"{row.user_name} signed in ({kind}){gone}",
                          action="create")
            return Outcome(session)

        return self._settled(self.desk.change("update", work))

    def sign_in(self, user_name: str, password: str, code: str, kind: str) -> NewSession:
        """Both steps at once (the CLI's `auditor login`)."""
        return self.code(self.password(user_name, password, kind).token, code, kind)

    # -- failures --------------------------------------------------------------------------------------
    def _refusal(self, change: StaffChange, row) -> str | None:
        """Why this account may not sign in whatever is typed (recorded), or None."""
        if not change.sealed_correctly(row):
            why = "its row does not match its seal (written outside auditor)"
        elif row.disabled_at is not None:
            why = "account disabled"
        elif row.locked_until is not None and row.locked_until > change.at:
            why = f"account locked until {_utc(row.locked_until)}"
        else:
            return None
        change.record("staff_account", row.id, f"sign-in of {row.user_name} refused: {why}", action="login_failed",
                      outcome="denied")
        return why

    @staticmethod
    def _failure(change: StaffChange, row, what: str) -> str:
        """Count a failure; the fifth in a row locks the account for LOCK_FOR."""
        failures = row.failed_logins + 1
        if failures >= LOCK_AFTER:
            until = change.at + LOCK_FOR
            change.update_account(row, failed_logins=0, locked_until=until)
            detail = f"{what}; {LOCK_AFTER} failures in a row: locked until {_utc(until)}"
        else:
            change.update_account(row, failed_logins=failures)
            detail = f"{what} (failure {failures} of {LOCK_AFTER})"
        change.record("staff_account", row.id, f"sign-in of {row.user_name} refused: {detail}", action="login_failed",
                      outcome="denied")
        return detail

    @staticmethod
    def _settled(outcome: Outcome) -> NewSession:
        if outcome.session is None:
            raise SignInRefused(REFUSED)
        return outcome.session


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")

"""Staff sessions, the same for the browser (a cookie) and the CLI (a token file): server-side rows
known by the SHA-256 of a random token, ended after 15 idle minutes (45 CFR 164.312(a)(2)(iii),
automatic logoff) and after 12 hours in any case. Each request that uses a session checks the row's
seal and the account's (auditor.staff.seals), that the account is not disabled, and its roles as
they are now."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update

from auditor.clock import Clock
from auditor.crypto.envelope import new_key_id
from auditor.database import read_snapshot
from auditor.errors import SignInRequired
from auditor.home import Vault
from auditor.staff.desk import ACCOUNTS, SESSIONS, Account, StaffChange, StaffDesk, account_of
from auditor.staff.seals import token_hash
from auditor.staff.roles import INVESTIGATOR, PRIVACY_OFFICER, RECORDS_MANAGER, ROI_COORDINATOR
from auditor.vault.gateway.context import AccessContext

KINDS = ("web", "cli")
CODE, SIGNED_IN = "code", "signed_in"


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=15)  # 45 CFR 164.312(a)(2)(iii): automatic logoff
    absolute: timedelta = timedelta(hours=12)  # a stolen token is good for a working day at most
    code_wait: timedelta = timedelta(minutes=5)  # between the password and the TOTP code


READING_ORDER = (PRIVACY_OFFICER, INVESTIGATOR, ROI_COORDINATOR, RECORDS_MANAGER)  # who reads PHI, first


@dataclass(frozen=True)
class SignedIn:
    """A signed-in account and its session: what a page or a command acts as."""

    account: Account
    session_id: int
    kind: str
    started_at: datetime
    token_hash: bytes  # the form token (CSRF) is derived from it

    def access_context(self, purpose: str, reason: str | None = None, role: str | None = None) -> AccessContext:
        """An AccessContext for gateway reads as this person, in `role` (default: the first of theirs in
        READING_ORDER): the audit log names the account, its role and the session, and the rules that
        watch the workforce watch its reads like anyone's. The gateway checks the account and the role
        in the staff accounts (AccessContext.of_staff), not this object's word for them."""
        held = [r for r in READING_ORDER if r in self.account.roles]
        chosen = role if role is not None else (held[0] if held else self.account.roles[0])
        return AccessContext.of_staff(self.account.user_name, chosen, purpose,
                                      workstation=f"{self.kind} session {self.session_id}", reason=reason)


@dataclass(frozen=True)
class NewSession:
    token: str  # handed to the browser or written to the token file; never stored
    session_id: int


class StaffSessions:
    def __init__(self, vault: Vault, policy: SessionPolicy | None = None, clock: Clock | None = None) -> None:
        self.vault = vault
        self.desk = StaffDesk(vault)
        self.policy = policy or SessionPolicy()
        self.clock = clock or vault.clock

    def open(self, change: StaffChange, account_id: int, kind: str, stage: str) -> NewSession:
        """A new session row with a new random token, in `change`'s transaction (never an old token
        reused: no session fixation)."""
        if kind not in KINDS:
            raise ValueError(f"unknown session kind {kind!r}")
        token = secrets.token_urlsafe(32)
        values = {"id": new_key_id(), "token_hash": token_hash(token), "account_id": account_id, "kind": kind,
                  "stage": stage, "created_at": change.at, "last_seen_at": change.at}
        change.insert_session(values)
        return NewSession(token, values["id"])

    def sweep(self, change: StaffChange, account_id: int) -> int:
        """Remove an account's sessions that have ended by the clock unseen (a browser closed, a sign-in
        abandoned after the password): how many."""
        ended = or_(SESSIONS.c.last_seen_at <= change.at - self.policy.idle,
                    SESSIONS.c.created_at <= change.at - self.policy.absolute,
                    and_(SESSIONS.c.stage == CODE, SESSIONS.c.created_at <= change.at - self.policy.code_wait))
        return change.session.execute(delete(SESSIONS).where(SESSIONS.c.account_id == account_id, ended)).rowcount

    def find(self, token: str | None, kind: str, stage: str = SIGNED_IN):
        """(session row, account row) of a token whose rows are sealed as this vault sealed them, or None."""
        if not token:
            return None
        with self.vault.records.connect() as conn:
            read_snapshot(conn)
            found = conn.execute(select(SESSIONS).where(SESSIONS.c.token_hash == token_hash(token))).first()
            if found is None:
                return None
            account = conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.id == found.account_id)).first()
        seals = self.desk.seals
        if not seals.matches(seals.session(found._mapping), found.seal) or found.kind != kind or found.stage != stage:
            self._refuse_forged(found)
            return None
        return found, account

    def resolve(self, token: str | None, kind: str) -> SignedIn:
        """The signed-in account of a session token, its session touched; or SignInRequired."""
        found = self.find(token, kind)
        if found is None:
            raise SignInRequired("not signed in")
        session, row = found
        now = self.clock.now()
        ended = self.ended(session, now)
        seals = self.desk.seals
        if ended is None and (row is None or not seals.matches(seals.account(row._mapping), row.seal)):
            ended = "its account's row does not match its seal (written outside auditor)"
        elif ended is None and row.disabled_at is not None:
            ended = "its account is disabled"
        if ended is not None:
            self.end(session.id, f"session {session.id} ended: {ended}", user_name=row.user_name if row else None)
            raise SignInRequired(f"signed out: {ended}")
        with self.vault.records.begin() as conn:
            conn.execute(update(SESSIONS).where(SESSIONS.c.id == session.id).values(last_seen_at=now))
        return SignedIn(account_of(row), session.id, session.kind, session.created_at, bytes(session.token_hash))

    def ended(self, session, now: datetime) -> str | None:
        """Why a session has ended by the clock, or None."""
        if now - session.last_seen_at >= self.policy.idle:
            return f"{int(self.policy.idle.total_seconds() // 60)} minutes without activity"
        if now - session.created_at >= self.policy.absolute:
            return f"signed in {int(self.policy.absolute.total_seconds() // 3600)} hours ago"
        return None

    def end(self, session_id: int, detail: str, user_name: str | None = None) -> None:
        """End a session (sign-out, a timeout): its row deleted, an audit event recorded."""

        def work(change: StaffChange) -> None:
            if change.end_sessions(session_id=session_id):
                who = f" ({user_name})" if user_name else ""
                change.record("staff_session", session_id, detail + who, action="delete")

        self.desk.change("delete", work)

    def sign_out(self, token: str | None, kind: str) -> bool:
        found = self.find(token, kind)
        if found is None:
            return False
        session, row = found
        self.end(session.id, f"{row.user_name if row else 'an account'} signed out ({kind})")
        return True

    def _refuse_forged(self, session) -> None:
        """A session row this vault did not seal (planted or edited in the database): ended, audited."""
        if not self.desk.seals.matches(self.desk.seals.session(session._mapping), session.seal):
            self.end(session.id, f"session {session.id} refused: its row does not match its seal "
                                 "(written outside auditor)")

"""The privacy office's own people: staff accounts of the web app and the CLI, and their sessions.

An account's full name and TOTP secret are sealed under the account's own data key. Its password is
kept as an Argon2id hash (salted, slow: the hash is the verifier, not the password). `seal` is an HMAC
of the row under a key derived from the keyring (auditor.staff.seals): a role, a lock or a password
hash written into the database by anyone without the keyring is refused at the next sign-in or
request; the ledger (auditor.vault.ledger) names it at `audit verify`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from auditor.database import RecordsBase, UTCDateTime
from auditor.vault.records.sealed import Sealed

STAFF_SEALED = {"staff_accounts": ("full_name", "totp_secret")}


class StaffAccount(RecordsBase):
    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # random: sealed before insert
    user_name: Mapped[str] = mapped_column(String(64), unique=True)
    roles: Mapped[str] = mapped_column(String(160))  # comma-separated, sorted (auditor.staff.roles)
    data_key_id: Mapped[int] = mapped_column(BigInteger)
    full_name: Mapped[bytes] = mapped_column(Sealed)
    password_hash: Mapped[str] = mapped_column(String(256))  # Argon2id, PHC string format
    totp_secret: Mapped[bytes] = mapped_column(Sealed)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)  # the last RFC 6238 time step accepted
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seal: Mapped[bytes] = mapped_column(LargeBinary)


class StaffSession(RecordsBase):
    """A signed-in session (the browser's cookie or the CLI's token file holds its token; only the
    token's SHA-256 is stored). Deleted when it ends: sign-out, idle or absolute timeout, disabling."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("staff_accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # web | cli
    stage: Mapped[str] = mapped_column(String(16))  # code (password checked, TOTP awaited) | signed_in
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seal: Mapped[bytes] = mapped_column(LargeBinary)

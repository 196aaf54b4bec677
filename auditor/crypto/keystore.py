"""The key store: per-subject data keys, wrapped by the keyring's KEKs, in a database of their own.

It is kept apart from the records database on purpose: destroying a data key here (crypto-shredding)
makes the subject's ciphertext unreadable everywhere, in every copy and backup of the records database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from auditor.database import UTCDateTime


class KeyStoreBase(DeclarativeBase):
    pass


class DataKey(KeyStoreBase):
    __tablename__ = "data_keys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    purpose: Mapped[str] = mapped_column(String(32))  # patient | workforce | audit-log
    kek_id: Mapped[int] = mapped_column(Integer, index=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once destroyed
    uses: Mapped[int] = mapped_column(BigInteger, default=0)  # encryptions made under this key
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class KekUsage(KeyStoreBase):
    __tablename__ = "kek_usage"

    kek_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wraps: Mapped[int] = mapped_column(BigInteger, default=0)


class KeyStoreState(KeyStoreBase):
    """The key store's one row: the keyring it belongs to and the KEK that wraps new data keys. Every
    writer of a wrapped data key reads it under a shared lock in its own transaction; `keys rotate`
    changes it under an exclusive one, so no key is ever wrapped under a KEK being retired."""

    __tablename__ = "keystore_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    keyring_fingerprint: Mapped[str] = mapped_column(String(80))
    primary_kek_id: Mapped[int] = mapped_column(Integer)

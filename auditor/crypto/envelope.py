"""Envelope encryption of fields: one AES-256-GCM data key per data subject, wrapped by the primary KEK
(the one the key store names, read under its lock: see `wrapping_kek`).

A field is sealed with associated data binding table, column and row id, so a ciphertext copied to
another row or column does not decrypt. Nonces are random 96 bits; every key's encryptions are counted
and refused past 2^32 (NIST SP 800-38D §8.3). Every failure to decrypt, whatever its cause (unknown,
retired or destroyed key, a flipped bit, a swapped value), raises the one DecryptionError.
"""

from __future__ import annotations

import functools
import secrets
import threading
from collections import Counter
from typing import Iterable

from sqlalchemy import Engine, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from auditor.clock import Clock, SystemClock
from auditor.database import read_snapshot
from auditor.crypto import _aead
from auditor.crypto.keyring import Keyring
from auditor.crypto.keystore import DataKey, KekUsage, KeyStoreState
from auditor.errors import DecryptionError, KeyringError, KeyUsageExhausted, NotFound, SchemaError, UnknownKey

MAX_USES = 2**32  # random 96-bit nonces: NIST SP 800-38D §8.3 invocation limit
_CACHE_LIMIT = 500_000


def field_context(table: str, column: str, row_id: int) -> bytes:
    return f"{table}\x00{column}\x00{row_id}".encode()


@functools.cache
def _column_prefix(table: str, column: str) -> bytes:
    return f"{table}\x00{column}".encode()


def _wrap_context(key_id: int) -> bytes:
    return b"auditor/data-key\x00%d" % key_id


def new_key_id() -> int:
    """Random positive 63-bit ids: allocated without a round trip, and revealing no counts."""
    return secrets.randbits(63) or 1


def new_key_ids(count: int) -> list[int]:
    """`count` ids as new_key_id makes them (63 random bits, 0 made 1), from one read of the operating
    system's random source rather than one each (half a million case findings spent 1.3 s there)."""
    raw = secrets.token_bytes(8 * count)
    return [int.from_bytes(raw[i : i + 8], "little") >> 1 or 1 for i in range(0, 8 * count, 8)]


class Envelope:
    """Seals and opens fields under per-subject data keys held in the key store."""

    def __init__(self, keyring: Keyring, keystore: Engine, clock: Clock | None = None) -> None:
        self.keyring = keyring
        self.keystore = keystore
        self.clock = clock or SystemClock()
        self._sealers: dict[int, _aead.Sealer] = {}
        self._uses: Counter[int] = Counter()
        self._stored_uses: dict[int, int] = {}
        self._counting = threading.Lock()  # a writer thread may flush the counts while another thread seals

    # -- data keys ------------------------------------------------------------------------------
    def create_keys(self, count: int, purpose: str) -> list[int]:
        """Make `count` data keys for new subjects; committed to the key store before use."""
        if count == 0:
            return []
        now = self.clock.now()
        made = [(new_key_id(), _aead.new_key()) for _ in range(count)]
        with Session(self.keystore) as session, session.begin():
            kek = self.wrapping_kek(session)
            session.execute(DataKey.__table__.insert(), [
                {"id": key_id, "purpose": purpose, "kek_id": kek.key_id, "uses": 0, "created_at": now,
                 "wrapped": kek.seal(material, _wrap_context(key_id))} for key_id, material in made])
            self._count_kek_wraps(session, {kek.key_id: count})
        for key_id, material in made:
            self._sealers[key_id] = _aead.Sealer(key_id, material)
            self._stored_uses[key_id] = 0
        return [key_id for key_id, _ in made]

    def wrapping_kek(self, session: Session) -> _aead.Sealer:
        """The KEK to wrap new data keys under, as the key store says in `session`'s transaction, its
        state row locked shared until the commit: `keys rotate` cannot switch the primary KEK or retire
        one while a key is being wrapped (SQLite: every write transaction holds the database's lock)."""
        primary = session.scalar(select(KeyStoreState.primary_kek_id).where(KeyStoreState.id == 1)
                                 .with_for_update(read=True))
        if primary is None:
            raise SchemaError("the key store is not bound to a keyring yet; run: auditor db upgrade")
        try:
            return self.keyring.kek(primary)  # a KEK newer than this process's keyring: the file is read again
        except UnknownKey:
            raise KeyringError(f"the key store wraps new keys under kek-{primary}, which keyring "
                               f"{self.keyring.path} does not hold") from None

    def create_key(self, purpose: str) -> int:
        return self.create_keys(1, purpose)[0]

    def preload(self, key_ids: Iterable[int]) -> None:
        """Unwrap many data keys with one key-store query (for bulk reads)."""
        wanted = [k for k in set(key_ids) if k not in self._sealers]
        if len(self._sealers) + len(wanted) > _CACHE_LIMIT:
            self._sealers.clear()
        with self.keystore.connect() as conn:
            read_snapshot(conn)
            for i in range(0, len(wanted), 5000):
                chunk = wanted[i : i + 5000]
                for key_id, wrapped, uses in conn.execute(
                    select(DataKey.id, DataKey.wrapped, DataKey.uses).where(DataKey.id.in_(chunk))
                ).all():
                    self._remember(key_id, wrapped, uses)

    def _remember(self, key_id: int, wrapped: bytes | None, uses: int) -> None:
        if wrapped is None:
            return  # destroyed: decryption will fail like any other failure
        try:
            kek = self.keyring.kek(_aead.header_key_id(wrapped))
            material = kek.open(wrapped, _wrap_context(key_id))
        except UnknownKey:
            return
        self._sealers[key_id] = _aead.Sealer(key_id, material)
        self._stored_uses[key_id] = uses

    def _sealer(self, key_id: int) -> _aead.Sealer:
        sealer = self._sealers.get(key_id)
        if sealer is None:
            if not 0 < key_id < 2**63:  # a header naming an id no key can have (ids are positive 63-bit)
                raise DecryptionError()
            with self.keystore.connect() as conn:
                read_snapshot(conn)
                row = conn.execute(select(DataKey.wrapped, DataKey.uses).where(DataKey.id == key_id)).first()
            if row is not None:
                self._remember(key_id, row.wrapped, row.uses)
            sealer = self._sealers.get(key_id)
            if sealer is None:
                raise DecryptionError()
        return sealer

    def unwraps(self, key_id: int) -> bool:
        """Whether data key `key_id` is in the key store and this keyring unwraps it."""
        try:
            self._sealer(key_id)
        except DecryptionError:
            return False
        return True

    def is_destroyed(self, key_id: int) -> bool:
        with Session(self.keystore) as session:
            row = session.execute(select(DataKey.wrapped).where(DataKey.id == key_id)).first()
        return row is None or row.wrapped is None

    # -- fields -----------------------------------------------------------------------------------
    def seal(self, key_id: int, table: str, column: str, row_id: int, value: str | None) -> bytes | None:
        if value is None:
            return None
        sealer = self._sealer(key_id)
        with self._counting:
            uses = self._uses[key_id] + 1
            if self._stored_uses.get(key_id, 0) + uses > MAX_USES:
                raise KeyUsageExhausted(f"data key {key_id} reached {MAX_USES} encryptions; rotate the subject's key")
            self._uses[key_id] = uses
        return sealer.seal(value.encode("utf-8"), field_context(table, column, row_id))

    def open(self, sealed: bytes | None, table: str, column: str, row_id: int) -> str | None:
        if sealed is None:
            return None
        sealer = self._sealer(_aead.header_key_id(sealed))
        return sealer.open(sealed, field_context(table, column, row_id)).decode("utf-8")

    def open_fields(self, table: str, row_id: int, sealed: Iterable[tuple[str, bytes | None]]) -> dict[str, str | None]:
        """Open several columns of one row: `open` for each, with the key looked up once per row."""
        suffix = b"\x00%d" % row_id
        out: dict[str, str | None] = {}
        sealer = header = None
        for column, value in sealed:
            if value is None:
                out[column] = None
                continue
            if header is None or not (type(value) is bytes and value.startswith(header)):
                sealer = self._sealer(_aead.header_key_id(value))
                header = sealer.header
            out[column] = sealer.open(value, _column_prefix(table, column) + suffix).decode("utf-8")
        return out

    def flush_usage(self) -> None:
        """Add the encryptions counted in memory to the key store. The counts move to the stored ones
        before the write, so a seal in another thread meanwhile is checked against all of them; if the
        write fails they move back, to be written next time."""
        with self._counting:
            if not self._uses:
                return
            pending, self._uses = self._uses, Counter()
            for key_id, n in pending.items():
                self._stored_uses[key_id] = self._stored_uses.get(key_id, 0) + n
        try:
            with Session(self.keystore) as session, session.begin():
                table = DataKey.__table__
                session.execute(
                    update(table).where(table.c.id == bindparam("key_id")).values(uses=table.c.uses + bindparam("n")),
                    [{"key_id": k, "n": n} for k, n in pending.items()],
                )
        except BaseException:
            with self._counting:
                for key_id, n in pending.items():
                    self._stored_uses[key_id] -= n
                self._uses.update(pending)
            raise

    # -- shredding and rotation -------------------------------------------------------------------
    def destroy(self, key_id: int) -> None:
        """Crypto-shredding: erase a data key's wrapped material; its ciphertext is gone everywhere."""
        with Session(self.keystore) as session, session.begin():
            result = session.execute(
                update(DataKey)
                .where(DataKey.id == key_id, DataKey.wrapped.is_not(None))
                .values(wrapped=None, destroyed_at=self.clock.now())
            )
            if result.rowcount != 1:
                raise NotFound(f"data key {key_id} does not exist or is already destroyed")
        self._sealers.pop(key_id, None)

    def rewrap_all(self, batch: int = 5000) -> int:
        """Rewrap every data key not under the primary KEK, without decrypting any record."""
        done = 0
        while True:
            with Session(self.keystore) as session, session.begin():
                primary = self.wrapping_kek(session)
                rows = session.execute(
                    select(DataKey.id, DataKey.wrapped)
                    .where(DataKey.kek_id != primary.key_id, DataKey.wrapped.is_not(None))
                    .limit(batch)
                ).all()
                if not rows:
                    return done
                changes = []
                for row in rows:
                    old = self.keyring.kek(_aead.header_key_id(row.wrapped))
                    material = old.open(row.wrapped, _wrap_context(row.id))
                    changes.append(
                        {"id": row.id, "kek_id": primary.key_id, "wrapped": primary.seal(material, _wrap_context(row.id))}
                    )
                session.execute(update(DataKey), changes)
                self._count_kek_wraps(session, {primary.key_id: len(changes)})
                done += len(changes)

    def keys_under(self) -> dict[int, int]:
        """How many live data keys each KEK wraps."""
        with Session(self.keystore) as session:
            rows = session.execute(
                select(DataKey.kek_id, func.count()).where(DataKey.wrapped.is_not(None)).group_by(DataKey.kek_id)
            )
            return {kek_id: n for kek_id, n in rows}

    def counts(self) -> dict[str, int]:
        with Session(self.keystore) as session:
            live = session.scalar(select(func.count()).where(DataKey.wrapped.is_not(None))) or 0
            destroyed = session.scalar(select(func.count()).where(DataKey.wrapped.is_(None))) or 0
            most = session.scalar(select(func.max(DataKey.uses))) or 0
            wraps = dict(session.execute(select(KekUsage.kek_id, KekUsage.wraps)).all())
        return {"live": live, "destroyed": destroyed, "max_uses": most, **{f"wraps:kek-{k}": v for k, v in wraps.items()}}

    @staticmethod
    def _count_kek_wraps(session: Session, wraps: dict[int, int]) -> None:
        # one upsert: writers share the rotation lock, and two of them may count a new KEK's first wraps at once
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        for kek_id, n in wraps.items():
            session.execute(insert(KekUsage).values(kek_id=kek_id, wraps=n).on_conflict_do_update(
                index_elements=[KekUsage.kek_id], set_={"wraps": KekUsage.wraps + n}))

"""Key-encryption-key rotation: a new KEK becomes primary, every data key is rewrapped under it (no
record is decrypted: only the 32-byte data keys are unwrapped and wrapped again), and the old KEKs
that no longer wrap anything are retired (their material erased from the keyring).

Other processes may keep working meanwhile. The key store's state row is the vault-wide lock: every
writer of a data key reads the primary KEK's id under it, shared, in the transaction that stores the
key (`Envelope.wrapping_kek`); rotation holds it exclusively while it switches the primary and while
it retires, and retires only a KEK that wraps nothing, counted in that same transaction. A process
whose keyring predates the rotation reads keyring.json again when the key store names a newer KEK.
An interrupted rotation is finished by running it again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from auditor.crypto.envelope import Envelope
from auditor.crypto.keyring import Keyring
from auditor.crypto.keystore import DataKey, KeyStoreState
from auditor.errors import SchemaError


@dataclass(frozen=True)
class Rotation:
    primary: int  # the new primary KEK's id
    rewrapped: int  # data keys rewrapped under it
    retired: tuple[int, ...]  # KEKs retired because nothing is wrapped by them any more
    still_active: tuple[int, ...]  # KEKs that still wrap data keys (run rotation again)


def rotate_keys(keyring: Keyring, envelope: Envelope) -> Rotation:
    primary = switch_primary(keyring, envelope)
    rewrapped = envelope.rewrap_all()
    retired, active = retire_unused(keyring, envelope)
    return Rotation(primary, rewrapped, retired, active)


def switch_primary(keyring: Keyring, envelope: Envelope) -> int:
    """A new KEK, made primary in keyring.json and in the key store under the exclusive lock; its id."""
    with Session(envelope.keystore) as session, session.begin():
        _lock(session)
        keyring.reload()  # another process may have rotated since this one loaded the keyring
        primary = keyring.add_primary_kek()  # the file first: a failed commit leaves an unused KEK, never a lost one
        session.execute(update(KeyStoreState).where(KeyStoreState.id == 1).values(primary_kek_id=primary))
    return primary


def retire_unused(keyring: Keyring, envelope: Envelope) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Retire every old KEK that wraps no live data key, counted under the exclusive lock (so none is
    being wrapped meanwhile); returns (retired, still wrapping keys)."""
    retired, active = [], []
    with Session(envelope.keystore) as session, session.begin():
        current = _lock(session)
        keyring.reload()
        left = dict(session.execute(select(DataKey.kek_id, func.count()).where(DataKey.wrapped.is_not(None))
                                    .group_by(DataKey.kek_id)).all())
        for kek in keyring.keks:
            if kek.status != "active" or kek.id == current:
                continue
            if left.get(kek.id):
                active.append(kek.id)
            else:
                keyring.retire_kek(kek.id)
                retired.append(kek.id)
    return tuple(retired), tuple(active)


def _lock(session: Session) -> int:
    """Take the key store's state row exclusively (every writer of data keys waits); the primary KEK id."""
    primary = session.scalar(select(KeyStoreState.primary_kek_id).where(KeyStoreState.id == 1).with_for_update())
    if primary is None:
        raise SchemaError("the key store is not bound to a keyring yet; run: auditor db upgrade")
    return primary

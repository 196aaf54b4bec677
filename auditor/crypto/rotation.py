"""Key-encryption-key rotation: a new KEK becomes primary, every data key is rewrapped under it (no
record is decrypted: only the 32-byte data keys are unwrapped and wrapped again), and the old KEKs
that no longer wrap anything are retired (their material erased from the keyring).

Run it with the vault quiet: a data key created under the old KEK while rotation runs is picked up by
running rotation again, which is always safe (it finishes whatever rewrapping is left).
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.crypto.envelope import Envelope
from auditor.crypto.keyring import Keyring


@dataclass(frozen=True)
class Rotation:
    primary: int  # the new primary KEK's id
    rewrapped: int  # data keys rewrapped under it
    retired: tuple[int, ...]  # KEKs retired because nothing is wrapped by them any more
    still_active: tuple[int, ...]  # KEKs that still wrap data keys (run rotation again)


def rotate_keys(keyring: Keyring, envelope: Envelope) -> Rotation:
    primary = keyring.add_primary_kek()
    rewrapped = envelope.rewrap_all()
    left = envelope.keys_under()
    retired, active = [], []
    for kek in keyring.keks:
        if kek.status != "active":
            continue
        if left.get(kek.id):
            active.append(kek.id)
        else:
            keyring.retire_kek(kek.id)
            retired.append(kek.id)
    return Rotation(primary, rewrapped, tuple(retired), tuple(active))

"""Which keyring a vault's two databases belong to.

`auditor init` writes the keyring's fingerprint into the records database and the key store; every
open compares them with the keyring it loaded, so a keyring from one vault and the databases of
another (a restored backup, a home.json edited to point elsewhere) are refused, naming the file that
does not belong, before anything is read or written. A vault made before this check is bound by
`auditor db upgrade`, once its keyring has shown it can open the vault's audit-log key.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, insert, select

from auditor import database
from auditor.crypto.envelope import Envelope
from auditor.crypto.keyring import Keyring
from auditor.crypto.keystore import KeyStoreState
from auditor.errors import ConfigurationError
from auditor.vault.records import VaultSetting

FINGERPRINT_SETTING = "keyring_fingerprint"
LOG_KEY_SETTING = "audit_log_data_key"


def bind_new(keyring: Keyring, records: Connection, keystore: Engine) -> None:
    """At init, in the records transaction that also stores the audit-log key."""
    with keystore.begin() as conn:
        conn.execute(insert(KeyStoreState).values(id=1, keyring_fingerprint=keyring.fingerprint,
                                                  primary_kek_id=keyring.primary_kek.key_id))
    records.execute(insert(VaultSetting).values(name=FINGERPRINT_SETTING, value=keyring.fingerprint))


def check(keyring: Keyring, records: Engine, keystore: Engine) -> None:
    """Refuse, in one line, databases that were not made with `keyring` (or not yet bound to it)."""
    in_records, in_keystore = _fingerprints(records, keystore)
    if in_records is None or in_keystore is None:
        which = "records database" if in_records is None else "key store"
        raise ConfigurationError(f"the {which} {_where(records if in_records is None else keystore)} is not bound "
                                 "to its keyring yet; run: auditor db upgrade")
    mine = keyring.fingerprint
    if in_records != mine and in_keystore != mine:
        if in_records == in_keystore:
            raise ConfigurationError(f"keyring {keyring.path} does not belong to this vault: its records database "
                                     "and key store were made with another keyring")
        raise ConfigurationError(f"neither the records database {_where(records)} nor the key store "
                                 f"{_where(keystore)} belongs to keyring {keyring.path}")
    if in_records != mine:
        raise ConfigurationError(f"the records database {_where(records)} does not belong to keyring "
                                 f"{keyring.path} (it was made with another keyring)")
    if in_keystore != mine:
        raise ConfigurationError(f"the key store {_where(keystore)} does not belong to keyring {keyring.path} "
                                 "(it was made with another keyring)")


def bind_existing(keyring: Keyring, records: Engine, keystore: Engine) -> bool:
    """`db upgrade` on a vault made before binding: True when it was bound now, False if it already was.
    Refused unless the keyring opens the audit-log data key the records database names in the key store."""
    in_records, in_keystore = _fingerprints(records, keystore)
    if in_records is not None and in_keystore is not None:
        check(keyring, records, keystore)
        return False
    for found, engine in ((in_records, records), (in_keystore, keystore)):
        if found is not None and found != keyring.fingerprint:
            raise ConfigurationError(f"the {'records database' if engine is records else 'key store'} "
                                     f"{_where(engine)} does not belong to keyring {keyring.path}")
    _prove_it_opens(keyring, records, keystore)
    with keystore.begin() as conn:
        if in_keystore is None:
            conn.execute(insert(KeyStoreState).values(id=1, keyring_fingerprint=keyring.fingerprint,
                                                      primary_kek_id=keyring.primary_kek.key_id))
    with records.begin() as conn:
        if in_records is None:
            conn.execute(insert(VaultSetting).values(name=FINGERPRINT_SETTING, value=keyring.fingerprint))
    return True


def _prove_it_opens(keyring: Keyring, records: Engine, keystore: Engine) -> None:
    with records.connect() as conn:
        log_key = conn.scalar(select(VaultSetting.value).where(VaultSetting.name == LOG_KEY_SETTING))
    if log_key is None or not Envelope(keyring, keystore).unwraps(int(log_key)):
        raise ConfigurationError(f"keyring {keyring.path} cannot open the audit-log key of the records database "
                                 f"{_where(records)} in the key store {_where(keystore)}: they do not belong "
                                 "together; nothing was bound") from None


def _fingerprints(records: Engine, keystore: Engine) -> tuple[str | None, str | None]:
    with records.connect() as conn:
        in_records = conn.scalar(select(VaultSetting.value).where(VaultSetting.name == FINGERPRINT_SETTING))
    with keystore.connect() as conn:
        in_keystore = conn.scalar(select(KeyStoreState.keyring_fingerprint).where(KeyStoreState.id == 1))
    return in_records, in_keystore


def _where(engine: Engine) -> str:
    return database.location(str(engine.url))

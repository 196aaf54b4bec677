"""The vault home: where a vault's settings, keyring, checkpoints and (by default) databases live.

    $AUDITOR_HOME/
      home.json         settings: database URLs (password hidden nowhere else: mode 0600), checkpoint interval
      keyring.json      KEKs, index root, log MAC key, signing key (mode 0600; refused if wider)
      checkpoints.log   signed checkpoints of the audit log (outside the database, on purpose)
      records.db        the records database (SQLite default)
      keystore.db       the key store (kept apart from the records, so shredding reaches every copy)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, insert, inspect, select

from auditor import database
from auditor.audit.checkpoints import CheckpointFile
from auditor.audit.events import AuditEvent
from auditor.audit.log import AuditLog, DEFAULT_CHECKPOINT_EVERY
from auditor.clock import Clock, SystemClock
from auditor.crypto.blind_index import BlindIndexer
from auditor.crypto.envelope import Envelope
from auditor.crypto.keyring import Keyring
from auditor.crypto.passphrase import check_new_passphrase
from auditor.phi_files import write_private
from auditor.crypto.rotation import Rotation, rotate_keys
from auditor.errors import ConfigurationError, HomeExists, HomeMissing
from auditor.vault.access_policy import AccessPolicy
from auditor.vault.gateway import AccessGateway
from auditor.vault.records import VaultSetting

HOME_FILE = "home.json"
LOG_KEY_SETTING = "audit_log_data_key"


def resolve_home(home: str | os.PathLike | None) -> Path:
    value = home or os.environ.get("AUDITOR_HOME")
    if not value:
        raise ConfigurationError("no vault home: pass --home or set AUDITOR_HOME")
    return Path(value).expanduser().resolve()


@dataclass(frozen=True)
class HomeSettings:
    database_url: str
    keystore_url: str
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY

    @classmethod
    def read(cls, home: Path) -> "HomeSettings":
        path = home / HOME_FILE
        if not path.exists():
            raise HomeMissing(f"{home} is not a vault home (no {HOME_FILE}); run: auditor init")
        try:
            doc = json.loads(path.read_text())
            return cls(doc["database_url"], doc["keystore_url"], int(doc.get("checkpoint_every", DEFAULT_CHECKPOINT_EVERY)))
        except (ValueError, KeyError, TypeError):
            raise ConfigurationError(f"{path} is not a readable vault settings file") from None

    def write(self, home: Path) -> None:
        doc = {"format": "auditor-home/1", "database_url": self.database_url, "keystore_url": self.keystore_url,
               "checkpoint_every": self.checkpoint_every}
        write_private(home / HOME_FILE, json.dumps(doc, indent=2).encode() + b"\n")


class Vault:
    """An open vault: engines, keyring, envelope, blind indexer, audit log and the gateway over them."""

    def __init__(self, home: Path, settings: HomeSettings, keyring: Keyring, records: Engine, keystore: Engine,
                 clock: Clock, policy: AccessPolicy | None = None) -> None:
        self.home, self.settings, self.keyring, self.clock = home, settings, keyring, clock
        self.records, self.keystore = records, keystore
        self.envelope = Envelope(keyring, keystore, clock)
        self.indexer = BlindIndexer(keyring.index_root_key)
        self.checkpoints = CheckpointFile(home / "checkpoints.log")
        with records.connect() as conn:
            log_key = conn.scalar(select(VaultSetting.value).where(VaultSetting.name == LOG_KEY_SETTING))
        if log_key is None:
            raise ConfigurationError("the records database has no audit-log key: it was not made by auditor init")
        self.audit_log = AuditLog(keyring, self.envelope, int(log_key), self.checkpoints, clock, settings.checkpoint_every)
        self.gateway = AccessGateway(records, self.envelope, self.indexer, self.audit_log,
                                     policy or AccessPolicy.load(), clock)

    @classmethod
    def open(cls, home: Path, passphrase: str | None = None, clock: Clock | None = None,
             check_schema: bool = True) -> "Vault":
        settings = HomeSettings.read(home)
        clock = clock or SystemClock()
        keyring = Keyring.load(home / "keyring.json", passphrase, clock)
        records = database.connect(settings.database_url)
        keystore = database.connect(settings.keystore_url)
        if check_schema:
            database.check_revision("records", records)
            database.check_revision("keystore", keystore)
        return cls(home, settings, keyring, records, keystore, clock)

    def rotate_keys(self) -> Rotation:
        """`auditor keys rotate`, recorded in the audit log (action "rewrap") once it is done."""
        done = rotate_keys(self.keyring, self.envelope)
        retired = ", ".join(f"kek-{k}" for k in done.retired) or "none"
        event = AuditEvent(at=self.clock.now(), action="rewrap", user_id="svc:keys", role="service",
                           record_type="keyring", purpose="HOPERAT",
                           detail=f"kek-{done.primary} made primary; {done.rewrapped} data keys rewrapped; "
                                  f"retired: {retired}")
        with self.records.begin() as conn:
            appended = self.audit_log.append(conn, [event])
        self.audit_log.after_commit(appended, 1)
        return done

    def close(self) -> None:
        self.records.dispose()
        self.keystore.dispose()


def default_urls(home: Path) -> tuple[str, str]:
    return f"sqlite:///{home / 'records.db'}", f"sqlite:///{home / 'keystore.db'}"


def create_home(home: Path, *, database_url: str | None = None, keystore_url: str | None = None,
                passphrase: str | None = None, checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
                clock: Clock | None = None, scrypt_n: int | None = None) -> Vault:
    """`auditor init`: a new home, keyring, key store and records database, or nothing at all."""
    clock = clock or SystemClock()
    if (home / HOME_FILE).exists() or (home / "keyring.json").exists():
        raise HomeExists(f"{home} already holds a vault; refusing to overwrite it")
    for url in (database_url, keystore_url):
        if url is not None:
            database.check_url(url)  # a malformed URL or a missing driver: one line, nothing made
    default_records, default_keystore = default_urls(home)
    settings = HomeSettings(database_url or default_records, keystore_url or default_keystore, checkpoint_every)
    if settings.database_url == settings.keystore_url:
        raise ConfigurationError("the key store must be a database apart from the records database")
    if passphrase is not None:
        check_new_passphrase(passphrase)
    created: list[Path] = []
    home_was_new = not home.exists()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    for url in (settings.database_url, settings.keystore_url):
        path = database._sqlite_path(url)
        if path is not None and path.exists():
            raise HomeExists(f"database file {path} already exists; refusing to overwrite it")
    records = keystore = None
    try:
        records = database.connect(settings.database_url, must_exist=False)
        keystore = database.connect(settings.keystore_url, must_exist=False)
        for name, engine in (("records", records), ("keystore", keystore)):
            if inspect(engine).get_table_names():
                raise HomeExists(f"the {name} database {database.describe(str(engine.url))} is not empty; refusing to use it")
            path = database._sqlite_path(str(engine.url))
            if path is not None:
                created += [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        keyring_path = home / "keyring.json"
        kwargs = {"scrypt_n": scrypt_n} if scrypt_n else {}
        keyring = Keyring.create(keyring_path, passphrase, clock, **kwargs)
        created.append(keyring_path)
        database.upgrade("keystore", keystore)
        database.upgrade("records", records)
        log_key = Envelope(keyring, keystore, clock).create_key("audit-log")
        with records.begin() as conn:
            conn.execute(insert(VaultSetting).values(name=LOG_KEY_SETTING, value=str(log_key)))
            AuditLog.initialise(conn)
        settings.write(home)
    except BaseException:
        for engine in (records, keystore):
            if engine is not None:
                _drop_everything(engine)
                engine.dispose()
        for path in created:
            path.unlink(missing_ok=True)
        if home_was_new:
            try:
                home.rmdir()
            except OSError:
                pass
        raise
    records.dispose()
    keystore.dispose()
    return Vault.open(home, passphrase, clock)


def _drop_everything(engine: Engine) -> None:
    """Undo a half-made init on a server database (a SQLite file is simply removed)."""
    if engine.dialect.name == "sqlite":
        return
    from auditor.crypto.keystore import KeyStoreBase
    from auditor.database import RecordsBase
    import auditor.audit.schema  # noqa: F401

    try:
        with engine.begin() as conn:
            RecordsBase.metadata.drop_all(conn, checkfirst=True)
            KeyStoreBase.metadata.drop_all(conn, checkfirst=True)
            for table in database.VERSION_TABLES.values():
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    except Exception:  # pragma: no cover - best effort on a failure path
        pass

"""The vault home: where a vault's settings, keyring, checkpoints and (by default) databases live.

    $AUDITOR_HOME/
      home.json         settings: database URLs (password hidden nowhere else: mode 0600; SQLite files
                        inside the home as paths relative to it, so a copied home uses its own), checkpoint interval
      keyring.json      KEKs, index root, log MAC key, signing key (mode 0600; refused if wider)
      checkpoints.log   signed checkpoints of the audit log (outside the database, on purpose)
      records.db        the records database (SQLite default)
      keystore.db       the key store (kept apart from the records, so shredding reaches every copy)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, inspect, select
from sqlalchemy.engine import make_url

from auditor import binding, database
from auditor.binding import LOG_KEY_SETTING
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
from auditor.vault.gateway.context import Operator
from auditor.vault.records import VaultSetting
from auditor.vault.settings import UTC, organisation_timezone, set_organisation_timezone, today_in

HOME_FILE = "home.json"


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
        """The settings, SQLite paths relative to the home made absolute (older homes stored them absolute)."""
        path = home / HOME_FILE
        if not path.exists():
            raise HomeMissing(f"{home} is not a vault home (no {HOME_FILE}); run: auditor init")
        try:
            doc = json.loads(path.read_text())
            urls = [_in_home(home, doc[name]) for name in ("database_url", "keystore_url")]
            return cls(*urls, int(doc.get("checkpoint_every", DEFAULT_CHECKPOINT_EVERY)))
        except (ValueError, KeyError, TypeError):
            raise ConfigurationError(f"{path} is not a readable vault settings file") from None

    def write(self, home: Path) -> None:
        doc = {"format": "auditor-home/1", "database_url": _relative_to(home, self.database_url),
               "keystore_url": _relative_to(home, self.keystore_url), "checkpoint_every": self.checkpoint_every}
        write_private(home / HOME_FILE, json.dumps(doc, indent=2).encode() + b"\n")

    def make_paths_relative(self, home: Path) -> bool:
        """`db upgrade`: rewrite home.json if it names SQLite files inside the home by absolute paths."""
        stored = json.loads((home / HOME_FILE).read_text())
        if all(stored[name] == _relative_to(home, getattr(self, name)) for name in ("database_url", "keystore_url")):
            return False
        self.write(home)
        return True


def _in_home(home: Path, url: str) -> str:
    path = database._sqlite_path(url)
    if path is None or path.is_absolute():
        return url
    return make_url(url).set(database=str(home / path)).render_as_string(hide_password=False)


def _relative_to(home: Path, url: str) -> str:
    path = database._sqlite_path(url)
    if path is None or not path.is_absolute() or not path.resolve().is_relative_to(home.resolve()):
        return url
    inside = path.resolve().relative_to(home.resolve())
    return make_url(url).set(database=str(inside)).render_as_string(hide_password=False)


class Vault:
    """An open vault: engines, keyring, envelope, blind indexer, audit log and the gateway over them."""

    def __init__(self, home: Path, settings: HomeSettings, keyring: Keyring, records: Engine, keystore: Engine,
                 clock: Clock, policy: AccessPolicy | None = None, operator: Operator | None = None) -> None:
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
                                     policy or AccessPolicy.load(), clock, operator)

    @classmethod
    def open(cls, home: Path, passphrase: str | None = None, clock: Clock | None = None,
             check_schema: bool = True, operator: Operator | None = None) -> "Vault":
        """`operator`: the OS account running the command, stamped on every audit event (the CLI gives it)."""
        settings = HomeSettings.read(home)
        clock = clock or SystemClock()
        keyring = Keyring.load(home / "keyring.json", passphrase, clock)
        records = database.connect(settings.database_url)
        keystore = database.connect(settings.keystore_url)
        try:
            if check_schema:
                database.check_revision("records", records)
                database.check_revision("keystore", keystore)
            binding.check(keyring, records, keystore)  # a keyring and databases of two vaults: refused
            return cls(home, settings, keyring, records, keystore, clock, operator=operator)
        except BaseException:
            records.dispose()
            keystore.dispose()
            raise

    # -- the organisation's time: every local day (a rule's, a report's, a deadline's) is decided here --
    @property
    def stored_timezone(self) -> ZoneInfo | None:
        """The organisation's time zone as `auditor ingest --tz` stored it; None until one is."""
        return organisation_timezone(self.records)

    @property
    def timezone(self) -> ZoneInfo:
        """The organisation's time zone (UTC until an ingest stores one). Read on every use: another
        process (an ingest with --change-timezone) may change it while this vault is open."""
        return self.stored_timezone or UTC

    def today(self) -> date:
        """Today in the organisation's time zone, on the vault's clock."""
        return today_in(self.clock, self.timezone)

    def set_timezone(self, zone: ZoneInfo) -> str | None:
        """Store `zone` as the organisation's (audited, as svc:import); the name it replaced, or None."""
        return set_organisation_timezone(self.gateway, zone)

    def files_checked(self, checkpoint_files: list[Path]) -> str:
        """One line naming what a check read: a copied home's verify must say whose databases it used."""
        return (f"checked: records database {database.location(self.settings.database_url)}; key store "
                f"{database.location(self.settings.keystore_url)}; checkpoints "
                + ", ".join(str(Path(f).resolve()) for f in checkpoint_files))

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
        """Sign a checkpoint over what this process appended (no command leaves an unsigned tail an
        attacker could cut unseen), then release the databases. Safe to call more than once."""
        try:
            if self.audit_log.unsigned_tail:
                with self.records.connect() as conn:
                    self.audit_log.sign_tail(database.read_snapshot(conn))
        finally:
            self.records.dispose()
            self.keystore.dispose()


def _absolute(url: str | None) -> str | None:
    """A SQLite URL given on the command line with a relative path names a file in the current folder."""
    path = database._sqlite_path(url) if url else None
    if path is None or path.is_absolute():
        return url
    return make_url(url).set(database=str(Path.cwd() / path)).render_as_string(hide_password=False)


def default_urls(home: Path) -> tuple[str, str]:
    return f"sqlite:///{home / 'records.db'}", f"sqlite:///{home / 'keystore.db'}"


def create_home(home: Path, *, database_url: str | None = None, keystore_url: str | None = None,
                passphrase: str | None = None, checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
                clock: Clock | None = None, scrypt_n: int | None = None, operator: Operator | None = None) -> Vault:
    """`auditor init`: a new home, keyring, key store and records database, or nothing at all
    (`operator`: the OS account running it, stamped on its events and on those of the vault returned)."""
    clock = clock or SystemClock()
    if (home / HOME_FILE).exists() or (home / "keyring.json").exists():
        raise HomeExists(f"{home} already holds a vault; refusing to overwrite it")
    for url in (database_url, keystore_url):
        if url is not None:
            database.check_url(url)  # a malformed URL or a missing driver: one line, nothing made
    default_records, default_keystore = default_urls(home)
    settings = HomeSettings(_absolute(database_url) or default_records, _absolute(keystore_url) or default_keystore,
                            checkpoint_every)
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
        with records.begin() as conn:
            binding.bind_new(keyring, conn, keystore)
            envelope = Envelope(keyring, keystore, clock)
            log_key = envelope.create_key("audit-log")
            conn.execute(insert(VaultSetting).values(name=LOG_KEY_SETTING, value=str(log_key)))
            AuditLog.initialise(conn)
            # the log's first events: its own key's setting row and the keyring's fingerprint, in the ledger
            first = [_setting_recorded(conn, name, clock, operator)
                     for name in (LOG_KEY_SETTING, binding.FINGERPRINT_SETTING)]
            log = AuditLog(keyring, envelope, log_key, CheckpointFile(home / "checkpoints.log"), clock, checkpoint_every)
            appended = log.append(conn, first)
        log.checkpoint(appended.size, appended.root)
        created.append(home / "checkpoints.log")
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
    return Vault.open(home, passphrase, clock, operator=operator)


def _setting_recorded(conn, name: str, clock: Clock, operator: Operator | None) -> AuditEvent:
    """The ledger event of a vault setting written at init (auditor.vault.ledger)."""
    from auditor.vault import ledger

    (digest,) = ledger.digests(conn, "vault_settings", [name]).values()
    return AuditEvent(at=clock.now(), action="create", user_id="svc:init", role="service",
                      record_type=ledger.record_type("vault_settings"), record_id=name, source_row_hash=digest,
                      purpose="HOPERAT", detail="vault created", workstation=operator.stamp if operator else None)


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

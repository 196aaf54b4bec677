"""Database engines and the schema's version, for the records database and the key store.

SQLite is the embedded default and PostgreSQL the production database. On SQLite every transaction
begins IMMEDIATE (it takes the write lock at once), so that an access and its audit event can never
lose a race to upgrade a read lock, and concurrent appenders queue on the busy timeout instead.
"""

from __future__ import annotations

import functools
import itertools
import os
import stat
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from datetime import datetime, timedelta, timezone

from sqlalchemy import BigInteger, Connection, Engine, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase

from auditor.errors import ConfigurationError, HomeMissing, SchemaError

_MIGRATIONS = Path(__file__).parent / "migrations"
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class UTCDateTime(TypeDecorator):
    """An aware datetime stored as integer microseconds since the Unix epoch (UTC), as the audit log
    stores its times: exact on every backend, cheap to compare and to load into typed frames, and
    never an ISO date string that could be read (or grepped) off the disk as a birth date."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("an aware datetime is required")
        delta = value - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return _EPOCH + timedelta(microseconds=value)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class RecordsBase(DeclarativeBase):
    """Tables of the records database: PHI (as ciphertext) and the audit log, in one transaction."""

    metadata = MetaData(naming_convention=NAMING)


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


READ_ONLY = "auditor_read_only"


def read_snapshot(conn: Connection) -> Connection:
    """Make `conn`'s next transaction a consistent read-only snapshot that blocks no writer: a deferred
    transaction on SQLite (WAL), REPEATABLE READ on PostgreSQL. Call before the first statement."""
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return conn.execution_options(**{READ_ONLY: True})


def server_cursor_rows(conn: Connection, sql: str, params=None, batch: int = 20_000) -> Iterator[tuple[list[str], list]]:
    """PostgreSQL: (column names, rows) of `sql`, `batch` rows at a time, through a named (server-side)
    cursor of psycopg's own, in `conn`'s transaction (psycopg begins one if none is open: the pool's
    rollback ends it when `conn` is returned); an empty result yields its column names
    once, with no rows. The rows are the driver's tuples as they come: SQLAlchemy's streamed result
    (yield_per, stream_results) made a Row of each, three times the time of the driver's own fetch
    (453,771 orders: 3.3-3.9 s against 0.9-1.2 s, 2026-12-06). Nothing is set on `conn`. Read it to
    the end, or close it while `conn` is still the caller's: the cursor is closed then."""
    with conn.connection.driver_connection.cursor(name=f"auditor_rows_{next(_CURSOR_NAMES)}") as cursor:
        cursor.execute(sql, params)
        columns, read = [d.name for d in cursor.description], 0
        while rows := cursor.fetchmany(batch):
            read += len(rows)
            yield columns, rows
        if not read:
            yield columns, []


_CURSOR_NAMES = itertools.count(1)


def parse_url(url: str) -> URL:
    """`url` parsed and checked, or one ConfigurationError saying what is wrong with it. Messages name
    the backend, driver or port at fault, never the URL itself (it may hold a password)."""
    example = "e.g. postgresql+psycopg://user@host/records or sqlite:////path/to/records.db"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(f"the database URL is not a URL of the form backend://... ({example})") from None
    except ValueError:  # make_url parses the port as an integer
        raise ConfigurationError("the database URL's port is not a number") from None
    backend = parsed.drivername.split("+", 1)[0]
    if backend not in ("sqlite", "postgresql"):
        hint = ": write postgresql+psycopg://" if backend == "postgres" else ": use sqlite or postgresql"
        raise ConfigurationError(f"unsupported database backend {backend!r}{hint}")
    if backend == "sqlite" and (not parsed.database or parsed.database == ":memory:"):
        raise ConfigurationError("a SQLite database URL must name a file (sqlite:////path/to/records.db)")
    if backend == "postgresql":
        if not parsed.database:
            raise ConfigurationError(f"the database URL names no database after the host ({example})")
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise ConfigurationError(f"the database URL's port {parsed.port} is out of range (1-65535)")
    return parsed


def connect(url: str, *, must_exist: bool = True) -> Engine:
    """An engine for `url`. A SQLite file that does not exist is an error unless we are creating it."""
    parsed = parse_url(url)
    path = _sqlite_path(url)
    if path is not None and must_exist and not path.exists():
        raise HomeMissing(f"database file {path} does not exist")
    if parsed.get_backend_name() == "sqlite":
        _driver_of(parsed)
        if path is not None and not path.exists():
            _create_private(path)
        engine = create_engine(url, connect_args={"timeout": 60})
        _make_sqlite_transactional(engine)
        return engine
    _driver_of(parsed)
    # Every statement planned with its values (auditor.vault.gateway.keyed): psycopg prepares a statement
    # on its fifth run, and PostgreSQL may then keep a generic plan that ignores the values; on a table
    # this very ingest is filling (no statistics yet) that compared every row with every key, seconds a
    # batch. Planning a statement costs a fraction of a millisecond.
    options = {"prepare_threshold": None} if parsed.get_driver_name() == "psycopg" else {}
    return create_engine(url, pool_pre_ping=True, connect_args=options)


def _driver_of(parsed: URL) -> None:
    """Refuse, in one line, a URL whose driver is unknown or not installed (before anything is made)."""
    try:
        parsed.get_dialect().import_dbapi()
    except NoSuchModuleError:
        raise ConfigurationError(f"unknown database driver {parsed.drivername!r}: use postgresql+psycopg:// "
                                 "or sqlite:///") from None
    except ImportError as exc:
        hint = "install it"
        if parsed.get_backend_name() == "postgresql":
            hint = "run: pip install 'auditor[postgres]'"
            if parsed.get_driver_name() != "psycopg":
                hint += " and write postgresql+psycopg://"
        raise ConfigurationError(f"the database driver {exc.name or parsed.get_driver_name()!r} for "
                                 f"{parsed.drivername}:// is not installed; {hint}") from None


def check_url(url: str) -> None:
    """Everything `connect` would refuse about `url` before connecting: its form and its driver."""
    _driver_of(parse_url(url))


def _create_private(path: Path) -> None:
    """An empty SQLite file only its owner may read (0600; SQLite gives the -wal and -shm files it
    creates beside it the same mode). PHI in it is sealed, but its account ids, times and volumes of
    access are the privacy office's alone."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:  # created meanwhile by another process
        pass
    except OSError as exc:
        raise ConfigurationError(f"cannot create database file {path}: {exc.strerror}") from None


def tighten_sqlite_files(url: str) -> list[tuple[Path, int]]:
    """Make a SQLite database and its -wal and -shm files (which older versions created 0644) readable
    by their owner only; returns each file changed with its mode before."""
    path = _sqlite_path(url)
    if path is None:
        return []
    changed = []
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        file = path.with_name(name)
        try:
            mode = stat.S_IMODE(os.lstat(file).st_mode)
            if stat.S_ISLNK(os.lstat(file).st_mode) or not mode & 0o077:
                continue
            os.chmod(file, mode & 0o700)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ConfigurationError(f"cannot make {file} private: {exc.strerror}") from None
        changed.append((file, mode))
    return changed


def _make_sqlite_transactional(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised by every SQLite test
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" below start transactions
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before it returns. With NORMAL, WAL mode may lose the last commits
        # on power failure, and an access already shown to its user would lose its audit event.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA cache_size=-262144")  # up to 256 MiB of page cache, taken as used: a
        # transaction of 100,000 appended events dirties pages all over the log's indexes, and a cache
        # smaller than them spills and rewrites them before the commit
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover
        # Writers take the write lock up front (no deadlock upgrading a read lock); a connection marked
        # read_only reads one snapshot and blocks nobody (WAL).
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def describe(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def location(url: str) -> str:
    """Where a database is, for messages: a SQLite file's path, else the URL without its password."""
    path = _sqlite_path(url)
    return str(path) if path is not None else describe(url)


# -- schema versions (Alembic) ---------------------------------------------------------------------
VERSION_TABLES = {"records": "alembic_version", "keystore": "keystore_alembic_version"}


def _alembic_config(which: str, engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS / which))
    config.attributes["engine"] = engine
    config.attributes["version_table"] = VERSION_TABLES[which]
    return config


@functools.cache
def _scripts(which: str) -> ScriptDirectory:
    """The package's migrations of one database, read once a process (they ship with the package, and
    reading their revision map is most of what opening a vault costs)."""
    return ScriptDirectory(str(_MIGRATIONS / which))


def head_revision(which: str) -> str:
    return _scripts(which).get_current_head()  # type: ignore[return-value]


def current_revision(which: str, engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLES[which]}).get_current_revision()
    except OperationalError as exc:
        raise SchemaError(f"cannot read the schema version of {describe(str(engine.url))}: {exc.orig}") from None


def upgrade(which: str, engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (before, after)."""
    before = check_revision(which, engine, allow_old=True)
    command.upgrade(_alembic_config(which, engine), "head")
    return before, head_revision(which)


def revisions_between(which: str, before: str | None, after: str) -> set[str]:
    """The revisions an upgrade from `before` (None: an empty database) to `after` applied."""
    script = _scripts(which)
    if before == after:
        return set()
    return {r.revision for r in script.iterate_revisions(after, before or "base")}


def check_revision(which: str, engine: Engine, *, allow_old: bool = False) -> str | None:
    """Refuse a database whose schema this auditor does not know (newer) or has not yet applied."""
    current = current_revision(which, engine)
    script = _scripts(which)
    head = script.get_current_head()
    if current is not None:
        try:
            script.get_revision(current)
        except Exception:
            raise SchemaError(
                f"the {which} database has schema revision {current}, newer than this auditor knows "
                f"(newest: {head}); upgrade auditor"
            ) from None
    if current != head and not allow_old:
        raise SchemaError(
            f"the {which} database schema is at {current or 'nothing'}, not {head}; run: auditor db upgrade"
        )
    return current


__all__ = ["RecordsBase", "connect", "describe", "upgrade", "check_revision", "head_revision", "SQLAlchemyError"]

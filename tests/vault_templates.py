"""Fresh vaults for the `vault` fixtures, made by copying one made earlier.

Making a vault runs every migration of two databases, statement by statement: 0.6 s on PostgreSQL
and 0.3-0.4 s on SQLite on an idle machine, about twice that in CI, for each of some 900 tests. So
each xdist worker makes one fresh vault per backend, clock and checkpoint interval its tests ask
for, with `auditor.home.create_home` as any vault is made, and keeps it untouched. A test's vault
is a copy, opened as `create_home` opens what it made:
- on SQLite, of the home folder (its two database files inside, home.json naming them relative to
  it), copied with its modes;
- on PostgreSQL, of the home folder (keyring, checkpoints) with home.json pointed at copies of the
  two databases: `CREATE DATABASE ... TEMPLATE` (PostgreSQL copies the files). What the copy holds is what a fresh
`create_home` at that clock would have written, keys and all; only the keys are the same from test
to test, which no test of one vault can tell. The clock a test passes is left where making the vault
would have left it (a FixedClock with a step advances on every read).

A vault that tests ask for already holding something (`fill`: a name, and what puts it there, such
as tests/cluster's simulated November, some 12,000 events ingested in 2-3 s) is a template made
once too, filled once and closed (as any vault is: a checkpoint signed over what the fill appended),
and copied as a fresh one is. A template that fails to be made or filled leaves no database behind.

A clock that is not a FixedClock (the system's: each vault is made at its own moment) gets a vault
made for it, as before."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Callable

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from auditor.clock import Clock, FixedClock
from auditor.home import HomeSettings, Vault, create_home


class VaultTemplates:
    def __init__(self, root: Path, scrypt_n: int):
        self.root, self.scrypt_n = root, scrypt_n
        self.admin_url: str | None = None  # the PostgreSQL server's, once a test on it asks
        self.made: dict[tuple, tuple[str, str, Path, FixedClock]] = {}

    def _url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def vault(self, home: Path, clock: Clock, server: tuple[str, Callable[..., str]] | None = None,
              fill: tuple[str, Callable[[Vault], None]] | None = None, **options) -> Vault:
        """A fresh vault at `home`, as create_home(home, clock=clock, scrypt_n=..., **options) would
        have made it, then given to `fill`'s function if any: on SQLite (`server` None) inside the
        home; on PostgreSQL, `server` being (the admin URL, fresh_postgres_db's `make`), in two
        databases that `make(template=...)` creates (and drops after the test). A fill is known by its
        name: one name, one function, in a session."""
        make = None
        if server is not None:
            self.admin_url, make = server
        if not isinstance(clock, FixedClock):
            servers = {"database_url": make(), "keystore_url": make()} if make else {}
            vault = create_home(home, clock=clock, scrypt_n=self.scrypt_n, **servers, **options)
            try:
                if fill:
                    fill[1](vault)
            except BaseException:
                vault.close()
                raise
            return vault
        key = (make is None, clock.at, str(clock.at.tzinfo), clock.step, tuple(sorted(options.items())),
               fill and fill[0])
        if key not in self.made:
            self.made[key] = self._template(replace(clock), options, on_server=make is not None,
                                            fill=fill and fill[1])
        records, keystore, template_home, after = self.made[key]
        shutil.copytree(template_home, home)
        if make is not None:
            settings = HomeSettings.read(template_home)
            HomeSettings(make(template=records), make(template=keystore), settings.checkpoint_every).write(home)
        clock.at = after.at  # where create_home's reads of the clock would have left it
        return Vault.open(home, None, clock)

    def _template(self, clock: FixedClock, options: dict, on_server: bool,
                  fill: Callable[[Vault], None] | None) -> tuple[str, str, Path, FixedClock]:
        names = tuple(f"auditor_template_{uuid.uuid4().hex[:12]}" for _ in range(2))
        home = self.root / names[0] / "home"
        if not on_server:
            _filled(create_home(home, clock=clock, scrypt_n=self.scrypt_n, **options), fill)
            return "", "", home, clock
        try:
            admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            try:
                with admin.connect() as conn:
                    for name in names:
                        conn.execute(text(f'CREATE DATABASE "{name}"'))
            finally:
                admin.dispose()
            _filled(create_home(home, clock=clock, scrypt_n=self.scrypt_n, database_url=self._url(names[0]),
                                keystore_url=self._url(names[1]), **options), fill)
        except BaseException:
            self._drop(names)  # not in self.made: drop() would not know of them
            raise
        return names[0], names[1], home, clock

    def drop(self) -> None:
        """The template databases dropped."""
        self._drop([name for records, keystore, _, _ in self.made.values() for name in (records, keystore) if name])

    def _drop(self, names: list[str] | tuple[str, ...]) -> None:
        """`names` dropped if they exist; where the server is gone already (a throwaway cluster stopped
        before this fixture's end, its files removed with it) there is nothing to drop."""
        if not names:
            return
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                for name in names:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except OperationalError:
            pass
        finally:
            admin.dispose()


def _filled(vault: Vault, fill: Callable[[Vault], None] | None) -> None:
    """`vault` given to `fill`, then closed (a template is copied closed)."""
    try:
        if fill:
            fill(vault)
    finally:
        vault.close()

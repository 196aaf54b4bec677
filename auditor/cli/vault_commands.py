"""auditor init | db upgrade | keys status | keys rotate | import synthea."""

from __future__ import annotations

from pathlib import Path

import click

from auditor import binding, database
from auditor.cli import cli
from auditor.cli.session import clock_of, home_of, keyring_of, new_passphrase, open_vault
from auditor.home import HomeSettings, create_home
from auditor.vault.gateway.context import Operator
from auditor.vault.integrity import adopt_legacy, adopt_tables, needs_adoption
from auditor.vault.ledger import ADDED_BY_REVISION

LEDGER_REVISION = "r0009"  # sealed block headers, signed archives, the ledger of trusted rows


@cli.command()
@click.option("--database-url", help="Records database (default: SQLite in the home). e.g. postgresql+psycopg://...")
@click.option("--keystore-url", help="Key store database, kept apart from the records (default: SQLite in the home).")
@click.option("--passphrase/--no-passphrase", "ask", default=None,
              help="Protect the keyring with a passphrase of 15 characters or more (AUDITOR_PASSPHRASE, or "
                   "asked for); --no-passphrase wins over AUDITOR_PASSPHRASE.")
@click.option("--checkpoint-every", default=1000, show_default=True, type=click.IntRange(1),
              help="Sign a checkpoint of the audit log every N events.")
@click.pass_context
def init(ctx, database_url, keystore_url, ask, checkpoint_every):
    """Create a new vault home: keyring (mode 0600), key store, records database. Refuses to overwrite."""
    home = home_of(ctx)
    passphrase = new_passphrase(ask)
    vault = create_home(home, database_url=database_url, keystore_url=keystore_url, passphrase=passphrase,
                        checkpoint_every=checkpoint_every, clock=clock_of(ctx),
                        operator=Operator.of_this_process())
    click.echo(f"created vault home {home}")
    click.echo(f"  records database: {database.describe(vault.settings.database_url)}")
    click.echo(f"  key store:        {database.describe(vault.settings.keystore_url)}")
    click.echo(f"  keyring:          {home / 'keyring.json'} "
               f"({'passphrase-protected' if vault.keyring.passphrase_protected else 'protected by file mode 0600 only'})")
    vault.close()


@cli.group()
def db():
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx):
    """Bring the records database and the key store to the newest schema, and bring an older home up to
    date: SQLite paths relative to the home, database files private (0600), databases bound to the keyring."""
    home = home_of(ctx)
    settings = HomeSettings.read(home)
    if settings.make_paths_relative(home):
        click.echo(f"{home / 'home.json'}: SQLite files in the home named relative to it (a copy uses its own)")
    engines, upgraded = {}, {}
    try:
        for which, url in (("records", settings.database_url), ("keystore", settings.keystore_url)):
            for path, mode in database.tighten_sqlite_files(url):
                click.echo(f"{path}: mode {mode:04o} -> {mode & 0o700:04o} (readable by its owner only)")
            engines[which] = engine = database.connect(url)
            before, after = upgraded[which] = database.upgrade(which, engine)
            click.echo(f"{which}: {before or 'empty'} -> {after}" if before != after else f"{which}: already at {after}")
        keyring = keyring_of(ctx)
        if binding.bind_existing(keyring, engines["records"], engines["keystore"]):
            click.echo(f"records database and key store bound to keyring {keyring.path} ({keyring.fingerprint[:23]}...)")
        applied = set().union(*(database.revisions_between(which, before, after) for which, (before, after)
                                in upgraded.items() if before is not None))  # existing databases only
        legacy = LEDGER_REVISION in applied or needs_adoption(engines["records"])
        joined = [] if legacy else [t for rev in sorted(applied) for t in ADDED_BY_REVISION.get(rev, ())]
    finally:
        for engine in engines.values():
            engine.dispose()
    if legacy:  # a vault made before the ledger and sealed block headers: vouch for it now, once it verifies
        done = adopt_legacy(open_vault(ctx))
        click.echo(f"sealed {done.headers_sealed} block header(s), signed {done.archives_signed} archive record(s), "
                   f"recorded {done.rows_recorded} row(s) in the audit log's ledger")
    elif joined:  # tables a revision brought into the ledger: vouch for the rows they hold, once the log verifies
        count = adopt_tables(open_vault(ctx), joined)
        click.echo(f"recorded {count} row(s) of {', '.join(sorted(set(joined)))} in the audit log's ledger")


@cli.group()
def keys():
    """Key-encryption keys: status and rotation."""


@keys.command("status")
@click.pass_context
def keys_status(ctx):
    """Show the keyring's keys and how many data keys each KEK wraps."""
    vault = open_vault(ctx)
    under = vault.envelope.keys_under()
    counts = vault.envelope.counts()
    click.echo(f"keyring {vault.keyring.path} "
               f"({'passphrase-protected' if vault.keyring.passphrase_protected else 'no passphrase'})")
    for kek in vault.keyring.keks:
        retired = f", retired {kek.retired_at}" if kek.retired_at else ""
        click.echo(f"  {kek.label:<8} {kek.status:<8} created {kek.created_at}{retired}; wraps {under.get(kek.id, 0)} data keys")
    click.echo(f"data keys: {counts['live']} live, {counts['destroyed']} destroyed (crypto-shredded); "
               f"most encryptions under one key: {counts['max_uses']}")
    vault.close()


@keys.command("rotate")
@click.pass_context
def keys_rotate(ctx):
    """Make a new KEK primary, rewrap every data key under it (no record is decrypted), retire the old.

    Other auditor processes may keep running: they wait on the key store's lock while the primary KEK
    changes, then wrap new keys under the new one. Safe to rerun after an interruption."""
    vault = open_vault(ctx)
    done = vault.rotate_keys()
    for kek_id in done.retired:
        click.echo(f"retired kek-{kek_id}")
    click.echo(f"kek-{done.primary} is primary; rewrapped {done.rewrapped} data keys")
    click.echo(f"{vault.keyring.path} changed: back it up again now (a copy made before this rotation "
               f"cannot unwrap keys under kek-{done.primary})")
    if done.still_active:
        click.echo("still wrapping data keys (run `auditor keys rotate` again): "
                   + ", ".join(f"kek-{k}" for k in done.still_active))
    vault.close()


@cli.group("import")
def import_group():
    """Load outside data into the vault (through the audited gateway)."""


@import_group.command("synthea")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_context
def import_synthea_command(ctx, folder):
    """Load a Synthea CSV export: patients, providers as workforce, encounters, documents."""
    from auditor.ingest.synthea import import_synthea

    vault = open_vault(ctx)
    summary = import_synthea(vault.gateway, folder)
    click.echo(f"imported {summary.patients} patients, {summary.workforce} workforce members, "
               f"{summary.encounters} encounters, {summary.documents} documents "
               "(already present: skipped)")
    vault.close()

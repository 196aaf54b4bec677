"""auditor export auditevents | month | check: the audit log as FHIR R4 AuditEvents (BALP), one a line;
a month of it as a signed Parquet export for a cluster, and the check of one."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from auditor.cli import cli
from auditor.cli.session import begun_month, day_option, open_vault
from auditor.cli.signed_in import require_role
from auditor.errors import InputError
from auditor.phi_files import check_empty_folder
from auditor.reporting.writers import check_destination
from auditor.staff.roles import INVESTIGATOR, OFFICE_REVIEW, PRIVACY_OFFICER


@cli.group("export")
def export_group():
    """Export the audit log in a standard format."""


@export_group.command("auditevents")
@click.option("--from", "first", required=True, help="First local day (YYYY-MM-DD), inclusive.")
@click.option("--to", "last", required=True, help="Last local day (YYYY-MM-DD), inclusive.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The NDJSON file to write.")
@click.option("--patient", "mrn", help="Only the events of the patient with this MRN.")
@click.pass_context
def auditevents_command(ctx, first, last, out, mrn):
    """Write every event of the period (the vault's own and the imported ones) as a FHIR R4
    AuditEvent following IHE BALP, one a line, then each disclosure of the disclosures ledger made in
    the period as a BALP PrivacyDisclosure; auditor ingest --format fhir reads it back.

    The file names patients by MRN and holds break-the-glass reasons, each read in your name: a
    privacy officer or an investigator signed in runs it. It is written whole or not at all."""
    from auditor.review.audit_export import export_auditevents
    from auditor.review.period import days

    first_day, last_day = day_option(first, "--from"), day_option(last, "--to")
    check_destination(out, folder=False)
    vault = open_vault(ctx)
    try:
        signed_in = require_role(ctx, vault, PRIVACY_OFFICER, INVESTIGATOR)
        reader = signed_in.access_context(OFFICE_REVIEW)
        done = export_auditevents(vault, days(vault, first_day, last_day), out, reader, mrn)
    finally:
        vault.close()
    click.echo(f"{done.events} audit events ({done.patients} patients, {done.reasons} break-the-glass reasons read) "
               f"and {done.disclosures} disclosure{'s' * (done.disclosures != 1)} from {first_day} to {last_day} written to {out}")


@export_group.command("month")
@click.option("--month", required=True, help="The month, YYYY-MM (local days of the organisation).")
@click.option("--parquet", "folder", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write (new or empty).")
@click.option("--site-policies", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of the site's rule overrides and rules (they set how far back the export reaches).")
@click.pass_context
def month_command(ctx, month, folder, site_policies):
    """Write a month of the audit log (with the rules' lookback before it) and the context the rules
    read as Parquet, for an engine on a cluster: events/day=YYYY-MM-DD/part-0.parquet, context/*.parquet
    and manifest.json, which holds each day's Merkle root, the log's signed checkpoint and the vault's
    signature. No name, MRN or break-the-glass reason is in it in clear. A privacy officer or an
    investigator signed in runs it; it is recorded on the audit log, and written whole or not at all."""
    from auditor.policy.rules import load_policy
    from auditor.review.month_export import export_month

    policy = load_policy(site_dir=site_policies)
    check_destination(folder, folder=True)
    check_empty_folder(folder)
    vault = open_vault(ctx)
    try:
        member = require_role(ctx, vault, PRIVACY_OFFICER, INVESTIGATOR).account.user_name
        period = begun_month(vault, month)
        done = export_month(vault, period, policy, folder, member)
        public_key = vault.keyring.signing_public_key.hex()
    finally:
        vault.close()
    click.echo(f"{done.events} audit events of {period.first_day} to {period.last_day} and before it ({done.days} "
               f"days), root {done.root}, checkpoint of size {done.checkpoint_size}, written to {folder}")
    click.echo(f"signed by key {done.key}; a cluster checks it with --public-key {public_key}")


@export_group.command("check")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--public-key", help="The vault's signing public key (hex); default: the vault home's keyring.")
@click.pass_context
def check_command(ctx, folder, public_key):
    """Check a month's export as a cluster does before it audits it: the manifest's signature, every
    day's events against its Merkle root, every context file against its SHA-256, no file added.
    Exit 1 if it does not hold."""
    from auditor.cluster.month_input import ExportRefused
    from auditor.review.month_export import checked_export

    if public_key:
        try:
            key = bytes.fromhex(public_key)
        except ValueError:
            raise InputError("--public-key must be hex") from None
        if len(key) != 32:
            raise InputError("--public-key must be 32 bytes (64 hex digits)")
    else:
        vault = open_vault(ctx)
        key = vault.keyring.signing_public_key
        vault.close()
    try:
        export, events = checked_export(folder, key)
    except ExportRefused as exc:
        click.echo(f"REFUSED: {exc}")
        sys.exit(1)
    click.echo(f"OK: {events} audit events of {export.period.first_day} to {export.period.last_day} "
               f"({len(export.days)} days), root {export.root}, as the vault signed them (checkpoint of size "
               f"{export.checkpoint.size})")

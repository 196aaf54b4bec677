"""auditor export auditevents: the audit log as FHIR R4 AuditEvents (BALP), one a line."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.cli import cli
from auditor.cli.session import day_option, open_vault
from auditor.cli.signed_in import require_role
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

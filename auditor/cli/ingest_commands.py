"""auditor ingest DIR --tz ZONE | auditor ingest PATH --format NAME | auditor ingest --rejected."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.cli import cli
from auditor.cli.session import open_vault
from auditor.errors import InputError
from auditor.vault.gateway.context import export_source

SHOWN_REJECTS = 20


@cli.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--format", "format_name", default="csv", show_default=True,
              help="csv: the interchange export (a folder of CSV files); fhir: FHIR AuditEvent (R4, R5; NDJSON, "
                   "Bundles or resources, JSON or XML); atna: IHE ATNA / DICOM PS3.15 AuditMessage XML, one a "
                   "file; or a vendor's extract by its mapping file (auditor formats list). All but csv read a "
                   "file or a folder.")
@click.option("--site-policies", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of the site's policies: its formats/NAME.yaml mapping files are formats too.")
@click.option("--tz", "tz_name", help="The organisation's IANA time zone (e.g. America/New_York); kept until changed.")
@click.option("--source", default="ehr", show_default=True, help="Name of the system the export comes from.")
@click.option("--change-timezone", is_flag=True,
              help="Let --tz change the time zone of a vault that holds data (rows loaded keep their times).")
@click.option("--rejected", is_flag=True, help="List the rows kept in quarantine instead of loading anything.")
@click.pass_context
def ingest(ctx, path, format_name, tz_name, source, change_timezone, rejected, site_policies):
    """Load an EHR's audit log: the interchange export (workforce, patients, encounters, care team,
    orders, appointments, documents, access log), or with --format an audit log in another format
    (access events only).

    Rows that cannot be read are reported as file:line: reason and kept in quarantine; the good rows
    load, and every line of each file is accounted for. Loading the same files again adds nothing,
    in any time zone; a vault that holds data changes its zone only with --change-timezone."""
    from auditor.ingest.ehr_import import open_directory
    from auditor.ingest.formats import reader
    from auditor.review.ingest import ingest_export, ingest_log
    from auditor.vault.settings import time_zone

    if rejected:
        return _list_rejected(ctx, source if _given(ctx, "source") else None)
    if path is None:
        raise InputError("give the export to load: auditor ingest DIR --tz ZONE (or PATH --format fhir|atna)")
    if len(source) > 64 or not source.strip():
        raise InputError("--source must be a name of 1 to 64 characters")
    export_source(source)  # refused before anything changes, the stored time zone included
    if change_timezone and not tz_name:
        raise InputError("--change-timezone needs the new zone: --tz ZONE")
    zone = time_zone(tz_name) if tz_name else None
    if format_name == "csv":
        open_directory(path)  # refuse a bad directory before anything changes
    else:
        reader(format_name, site_policies).files(path)  # an unknown format, or nothing it reads there: refused first
    vault = open_vault(ctx)
    try:
        zone = _organisation_zone(vault, zone, change_timezone)
        summary = (ingest_export(vault, path, zone, source.strip()) if format_name == "csv"
                   else ingest_log(vault, path, format_name, zone, source.strip(), site_dir=site_policies))
    finally:
        vault.close()
    _report(summary)


def _organisation_zone(vault, zone, change_timezone: bool):
    """The zone this ingest reads in (auditor.review.ingest.choose_timezone), said before it loads."""
    from auditor.review.ingest import choose_timezone

    chosen = choose_timezone(vault, zone, change_timezone)
    zone, previous = chosen.zone, chosen.previous
    if not chosen.given:
        click.echo(f"organisation time zone: {zone.key} (stored)")
        return zone
    click.echo(f"organisation time zone: {zone.key}" + (
        "" if previous == zone.key else " (stored)" if previous is None else
        f" (changed from {previous}; rows already loaded keep the times they were read with)"))
    return zone


def _given(ctx, name: str) -> bool:
    return ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT


def _report(summary) -> None:
    for warning in summary.warnings:
        click.echo(f"warning: {warning}", err=True)
    for name, count in summary.files.items():  # every line after the header accounted for
        unit = "lines" if summary.format == "csv" else "records"
        line = (f"{name}: {count.lines} {unit}: {count.loaded} loaded, {count.already_present} already present, "
                f"{count.rejected} rejected")
        if count.continuing:
            line += f", {count.continuing} continuing a record begun on an earlier line"
        if count.blank:
            line += f", {count.blank} blank"
        if name == "access_log.csv" and summary.format == "csv":
            line += f" ({summary.access_rows_per_second:,.0f} rows/second)"
        click.echo(line)
    if summary.unknown_accounts:
        click.echo(f"{summary.unknown_accounts} access events by accounts not in the workforce were loaded "
                   "(without a role) for review")
    if summary.rejected:
        for entry in summary.rejected[:SHOWN_REJECTS]:
            click.echo(f"rejected {entry.file}:{entry.line}: {entry.reason}")
        more = len(summary.rejected) - SHOWN_REJECTS
        click.echo((f"... and {more} more; " if more > 0 else "")
                   + f"{len(summary.rejected)} {'line' if summary.format == 'csv' else 'record'}"
                   f"{'s' * (len(summary.rejected) != 1)} rejected "
                   f"({summary.newly_quarantined} newly quarantined); "
                   "list them with: auditor ingest --rejected")
    click.echo(f"ingest run {summary.run_id} (source {summary.source}) done")


def _list_rejected(ctx, source: str | None) -> None:
    from auditor.review.ingest import quarantined

    vault = open_vault(ctx)
    try:
        found = quarantined(vault, source)
    finally:
        vault.close()
    for rejection in found:
        click.echo(str(rejection))
    click.echo(f"{len(found)} rows in quarantine")

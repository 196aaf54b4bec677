"""auditor report monthly | patient: the reports a privacy office hands over (auditor.review.monthly,
auditor.review.patient_access). Both name patients: the monthly report is made and signed by a
privacy officer signed in (auditor login), whose full name and user name it gives as its author; a patient's access
report by a privacy officer or an investigator."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import click

from auditor.cases.settings import load_case_settings
from auditor.cli import cli
from auditor.cli.engines import engine_choice, engine_options, warn_of_a_large_part
from auditor.cli.session import begun_month, day_option, open_vault
from auditor.cli.signed_in import gone, require_role
from auditor.policy.rules import load_policy
from auditor.reporting import writers
from auditor.reporting.templates import load_site
from auditor.review import monthly, patient_access
from auditor.staff.accounts import StaffAccounts
from auditor.staff.roles import INVESTIGATOR, OFFICE_REVIEW, PRIVACY_OFFICER

_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


@cli.group()
def report():
    """Reports: the monthly privacy audit report, a patient's access report."""


def _zone(vault) -> ZoneInfo:
    if vault.stored_timezone is None:
        click.echo("auditor: no organisation time zone is stored (auditor ingest --tz); using UTC", err=True)
    return vault.timezone




def _author(vault, account) -> str:
    """The report's author: the signed-in account's full name (sealed in the staff accounts) and user name."""
    return f"{StaffAccounts(vault).full_names([account])[account.id]} ({account.user_name})"


@report.command("monthly")
@click.option("--month", required=True, help="The month to report on, YYYY-MM (local days of the organisation).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for report.html, report.pdf, findings.csv, findings.json (default: report-YYYY-MM).")
@click.option("--pseudonymize", is_flag=True, help="Replace patient names by stable pseudonyms.")
@gone("--author", "the report names the signed-in privacy officer: auditor login USER")
@click.option("--organisation", default=None, help="The organisation's name (default: the site's site.yaml).")
@click.option("--site", "site_dir", type=_DIR, default=None,
              help="A site folder: site.yaml (organisation, logo) and templates that override ours.")
@click.option("--site-policies", type=_DIR, default=None, help="A folder of the site's rule overrides and rules.")
@click.option("--no-pdf", is_flag=True, help="Write the HTML only.")
@engine_choice
@click.pass_context
def monthly_command(ctx, month, out, pseudonymize, organisation, site_dir, site_policies, no_pdf, engine, master,
                    export_dir, part_events):
    """Run the privacy rules over a month and write the monthly privacy audit report (a privacy officer
    signed in: the report names them as its author). With --engine spark the rules run on a cluster,
    for the month and the month before; the report is the one the local engine gives."""
    site = load_site(site_dir, organisation)
    policy = load_policy(site_dir=site_policies)
    case_settings = load_case_settings(site_dir=site_policies)
    out = out or Path(f"report-{month}")
    writers.check_destination(out, folder=True)  # before the run records anything
    judge_on = engine_options(engine, master, export_dir, part_events)
    vault = open_vault(ctx)
    try:  # as auditor findings: muted findings, cases
        officer = require_role(ctx, vault, PRIVACY_OFFICER)
        _zone(vault)  # says so when no zone is stored
        report = monthly.monthly_report(vault, begun_month(vault, month), policy, site,
                                        author=_author(vault, officer.account), pseudonymize=pseudonymize,
                                        case_settings=case_settings,
                                        reader=officer.access_context(OFFICE_REVIEW, role=PRIVACY_OFFICER),
                                        judge=judge_on(officer.account.user_name))
    finally:
        vault.close()
    warn_of_a_large_part(report.review)
    paths = monthly.write_monthly_report(report, out, pdf=not no_pdf)
    head = report.headline
    share = "n/a" if head.explained_share is None else f"{head.explained_share:.1%}"
    verified = ("verified" if head.log_verified else "FAILED verification" if not head.log_intact else
                f"verified, but {head.rows_altered:,} row(s) of treatment data were ALTERED behind the gateway")
    click.echo(f"{report.period.first_day:%B %Y}: {head.accesses:,} patient accesses, {share} explained, "
               f"{head.findings:,} findings in {head.cases:,} cases; audit log {verified}")
    for kind in ("html", "pdf", "csv", "json"):
        if kind in paths:
            click.echo(f"  {paths[kind]}")


@report.command("patient")
@click.option("--mrn", required=True, help="The patient's medical record number.")
@click.option("--from", "first", default=None, help="First local day, YYYY-MM-DD (default: three years before --to).")
@click.option("--to", "last", default=None, help="Last local day, YYYY-MM-DD (default: today).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("access-report"),
              show_default=True, help="Folder for access-report.html and access-report.pdf.")
@click.option("--organisation", default=None, help="The organisation's name (default: the site's site.yaml).")
@click.option("--site", "site_dir", type=_DIR, default=None, help="A site folder: site.yaml and template overrides.")
@click.option("--no-pdf", is_flag=True, help="Write the HTML only.")
@click.pass_context
def patient_command(ctx, mrn, first, last, out, organisation, site_dir, no_pdf):
    """Who accessed a patient's record and why: every access, with the relationship that explains it."""
    site = load_site(site_dir, organisation)
    policy = load_policy()
    given_first, given_last = day_option(first, "--from"), day_option(last, "--to")  # bad dates before anything
    writers.check_destination(out, folder=True)
    vault = open_vault(ctx)
    try:
        require_role(ctx, vault, PRIVACY_OFFICER, INVESTIGATOR)
        _zone(vault)  # says so when no zone is stored
        report = patient_access.patient_access_report(vault, mrn, given_first, given_last, policy)
    finally:
        vault.close()
    paths = patient_access.write_patient_access_report(report, site, out, pdf=not no_pdf)
    click.echo(f"{len(report.accesses)} access(es) by {report.users} user(s), "
               f"{report.unexplained} not explained, {report.first_day} to {report.last_day}")
    for path in paths.values():
        click.echo(f"  {path}")

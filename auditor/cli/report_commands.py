"""auditor report monthly | patient: the reports a privacy office hands over."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import click

from auditor.cli import cli
from auditor.cli.session import day_option, open_vault
from auditor.policy.rules import load_policy
from auditor.reporting import monthly, writers
from auditor.reporting.templates import load_site
from auditor.cases.settings import load_case_settings

_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


@cli.group()
def report():
    """Reports: the monthly privacy audit report, a patient's access report."""


def _zone(vault) -> ZoneInfo:
    if vault.stored_timezone is None:
        click.echo("auditor: no organisation time zone is stored (auditor ingest --tz); using UTC", err=True)
    return vault.timezone


@report.command("monthly")
@click.option("--month", required=True, help="The month to report on, YYYY-MM (local days of the organisation).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for report.html, report.pdf, findings.csv, findings.json (default: report-YYYY-MM).")
@click.option("--pseudonymize", is_flag=True, help="Replace patient names by stable pseudonyms.")
@click.option("--author", default=None, help="Who prepared the report (default: the login name).")
@click.option("--organisation", default=None, help="The organisation's name (default: the site's site.yaml).")
@click.option("--site", "site_dir", type=_DIR, default=None,
              help="A site folder: site.yaml (organisation, logo) and templates that override ours.")
@click.option("--site-policies", type=_DIR, default=None, help="A folder of the site's rule overrides and rules.")
@click.option("--no-pdf", is_flag=True, help="Write the HTML only.")
@click.pass_context
def monthly_command(ctx, month, out, pseudonymize, author, organisation, site_dir, site_policies, no_pdf):
    """Run the privacy rules over a month and write the monthly privacy audit report."""
    site = load_site(site_dir, organisation)
    policy = load_policy(site_dir=site_policies)
    out = out or Path(f"report-{month}")
    writers.check_destination(out, folder=True)  # before the run records anything
    vault = open_vault(ctx)
    try:
        period = monthly.month_period(month, _zone(vault))
        verification = monthly.start_verification(vault)
        run = monthly.audit_month(vault, period, policy)  # as auditor findings: muted findings, cases
        context = monthly.build_monthly(vault, run, policy, site, author=author, pseudonymize=pseudonymize,
                                        case_settings=load_case_settings(site_dir=site_policies),
                                        verification=verification)
        html = writers.render_html(site, "monthly.html", context)
        findings = monthly.pseudonymized(vault, run.findings) if pseudonymize else run.findings
    finally:
        vault.close()
    paths = writers.write_monthly(out, html, findings, pdf=not no_pdf, site=site)
    summary = context["summary"]
    share = "n/a" if summary["explained_share"] is None else f"{summary['explained_share']:.1%}"
    checked = context["verification"]
    verified = ("verified" if checked["ok"] else "FAILED verification" if not checked["log_ok"] else
                f"verified, but {checked['rows_altered']:,} row(s) of treatment data were ALTERED behind the gateway")
    click.echo(f"{period.first_day:%B %Y}: {summary['accesses']:,} patient accesses, {share} explained, "
               f"{summary['findings']:,} findings in {summary['cases']:,} cases; audit log {verified}")
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
    from auditor.errors import InputError
    from auditor.reporting.patient import PatientReportRequest, build_patient_report

    site = load_site(site_dir, organisation)
    policy = load_policy()
    given_first, given_last = day_option(first, "--from"), day_option(last, "--to")  # bad dates before anything
    writers.check_destination(out, folder=True)
    vault = open_vault(ctx)
    try:
        tz = _zone(vault)
        last_day = given_last or vault.today()
        first_day = given_first or last_day.replace(year=last_day.year - 3, day=min(last_day.day, 28))
        if last_day < first_day:
            raise InputError("--to is before --from")
        context = build_patient_report(vault, PatientReportRequest(mrn, first_day, last_day), policy, site, tz)
        html = writers.render_html(site, "patient.html", context)
    finally:
        vault.close()
    paths = writers.write_report(out, "access-report", html, pdf=not no_pdf, site=site)
    click.echo(f"{len(context['accesses'])} access(es) by {context['users']} user(s), "
               f"{context['unexplained']} not explained, {first_day} to {last_day}")
    for path in paths.values():
        click.echo(f"  {path}")

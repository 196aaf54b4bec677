"""auditor findings | policy lint: run the privacy rules over the audit log, check the rule files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from auditor.cli import cli
from auditor.cli.engines import engine_choice, engine_options, warn_of_a_large_part
from auditor.cli.session import day_option, open_vault
from auditor.cli.signed_in import require_role
from auditor.errors import InputError
from auditor.phi_files import write_private
from auditor.policy.explanations import shares_text
from auditor.policy.rules import lint, load_policy
from auditor.reporting.writers import check_destination, findings_csv, findings_json, findings_jsonl_bytes
from auditor.review.period import days, review_period
from auditor.staff.roles import INVESTIGATOR, PRIVACY_OFFICER

_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


@cli.command("findings")
@click.option("--from", "first", required=True, help="First local day (YYYY-MM-DD), inclusive.")
@click.option("--to", "last", required=True, help="Last local day (YYYY-MM-DD), inclusive.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "jsonl"]), default="json", show_default=True,
              help="json: an array; csv: a spreadsheet; jsonl: one finding a line, for a SIEM.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
@click.option("--site-policies", type=_DIR, help="A folder of the site's rule overrides and rules.")
@engine_choice
@click.pass_context
def findings_command(ctx, first, last, fmt, out, site_policies, engine, master, export_dir, part_events):
    """Run the privacy rules over the audit log for a period of local days and write the findings.

    Findings a suppression matches are kept and marked muted; each user's other findings go into
    their case (reruns add nothing: see auditor cases). They name patients by MRN: a privacy officer
    or an investigator signed in runs it. With --engine spark the rules run on a cluster, which gives
    the same findings; they come back into the vault's cases as from the local engine."""
    first_day, last_day = day_option(first, "--from"), day_option(last, "--to")
    if last_day < first_day:
        raise InputError("--to is before --from")
    policy = load_policy(site_dir=site_policies)
    judge_on = engine_options(engine, master, export_dir, part_events)
    if out:
        check_destination(out, folder=False)  # before the run puts findings into cases
    vault = open_vault(ctx)
    try:
        member = require_role(ctx, vault, PRIVACY_OFFICER, INVESTIGATOR).account.user_name
        if vault.stored_timezone is None:
            click.echo("auditor: no organisation time zone is stored (auditor ingest --tz); using UTC", err=True)
        review = review_period(vault, days(vault, first_day, last_day), policy, judge_on(member))
    finally:
        vault.close()
    found, attached, tz = review.findings, review.attachment, review.period.tz
    warn_of_a_large_part(review)
    unsealed = review.unsealed_blocks
    if unsealed:  # read by their events' own times, so nothing was missed; but someone edited the log
        click.echo(f"warning: {len(unsealed)} block(s) of the audit log have a header that does not verify; their "
                   "events were read by their own times; run: auditor audit verify", err=True)
    text = (findings_json(found) if fmt == "json" else findings_jsonl_bytes(found).decode("utf-8") if fmt == "jsonl"
            else findings_csv(found))
    share = review.explained_share
    summary = (f"{len(found)} finding(s), {review.muted} muted, in {review.cases} case(s) ({len(attached.opened)} "
               f"opened, {attached.added} finding(s) newly attached), {first_day} to {last_day} ({tz.key}); "
               f"{review.accesses} patient accesses, "
               + ("none to explain" if share is None else f"{share:.1%} explained")
               + (f" ({shares_text(review.explained_by_share)})" if share else ""))
    if out:
        write_private(out, text)
        click.echo(f"{summary}; written to {out}")
    else:
        sys.stdout.write(text)
        click.echo(summary, err=True)


@cli.group()
def policy():
    """The privacy rules: policies/rules/*.yaml and a site's overrides."""


@policy.command("lint")
@click.option("--rules-dir", type=_DIR, help="A folder of rule files (default: the auditor's own).")
@click.option("--site-policies", type=_DIR, help="A folder of the site's rule overrides and rules.")
def lint_command(rules_dir, site_policies):
    """Check every rule file; print every problem as file:line: message. Exit 2 when there are any."""
    problems, checked = lint(rules_dir, site_policies)
    if problems:
        for p in problems:
            click.echo(str(p))
        click.echo(f"{len(problems)} problem(s)", err=True)
        sys.exit(2)
    click.echo(f"OK: {len(checked.rules)} rules, no problems")

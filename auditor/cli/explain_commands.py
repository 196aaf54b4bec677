"""auditor explain mine | approve | list: explanation templates proposed from the site's own data, which
explain nothing until a privacy officer approves one into the site's policy folder."""

from __future__ import annotations

import json
from pathlib import Path

import click

from auditor.cli import cli
from auditor.cli.session import day_option, open_vault
from auditor.cli.signed_in import acting
from auditor.errors import InputError
from auditor.policy.rules import load_policy
from auditor.review.mining import approve, mine
from auditor.review.period import days
from auditor.staff.roles import INVESTIGATOR, PRIVACY_OFFICER

_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


@cli.group()
def explain():
    """Explanation templates: proposed from the site's data (mine), approved by an officer (approve)."""


@explain.command("mine")
@click.option("--from", "first", required=True, help="First local day (YYYY-MM-DD), inclusive.")
@click.option("--to", "last", required=True, help="Last local day (YYYY-MM-DD), inclusive.")
@click.option("--site-policies", type=_DIR, help="The site's policy folder (its approved templates are not proposed again).")
@click.option("--labels", "labels_path", type=click.Path(dir_okay=False, path_type=Path),
              help="labels.csv of a simulation: also count the labelled violations each would explain away.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def explain_mine(ctx, first, last, site_policies, labels_path, fmt):
    """Measure the candidate templates over a period: how many unexplained accesses each would explain
    (support), and how many flagged events (and labelled violations) it would explain away (risk). A
    privacy officer or an investigator signed in runs it; it decrypts nothing."""
    first_day, last_day = day_option(first, "--from"), day_option(last, "--to")
    labels = None
    if labels_path is not None:
        from auditor.simulation.evaluation import read_labels

        labels = read_labels(labels_path)
    policy = load_policy(site_dir=site_policies)
    vault = open_vault(ctx)
    try:
        by = acting(ctx, vault, PRIVACY_OFFICER, INVESTIGATOR)
        found = mine(vault, days(vault, first_day, last_day), policy, by, labels)
    finally:
        vault.close()
    if fmt == "json":
        click.echo(json.dumps({"from": str(first_day), "to": str(last_day), "accesses": found.accesses,
                               "unexplained": found.unexplained, "approved": found.approved,
                               "proposals": [p.to_dict() for p in found.proposals]}, indent=2))
        return
    share = found.unexplained / found.accesses if found.accesses else 0.0
    click.echo(f"{first_day} to {last_day}: {found.unexplained:,} of {found.accesses:,} patient accesses "
               f"unexplained ({share:.1%}); each template, most support first (none explains anything until approved):")
    for n, p in enumerate(found.proposals, start=1):
        risk = f"{p.flagged} flagged event(s) explained away"
        if p.labelled is not None:
            risk += f", {p.labelled} labelled violation(s)"
        click.echo(f"{n}.\t{p.template.id}\tsupport {p.explains:,} ({p.support:.1%} of the unexplained)\trisk: {risk}")
        click.echo(f"\t{p.template.sentence}")
    if found.approved:
        click.echo(f"already approved: {', '.join(found.approved)}")
    click.echo("approve one with: auditor explain approve ID --site-policies DIR")


@explain.command("approve")
@click.argument("template_id")
@click.option("--site-policies", type=_DIR, required=True, help="The site's policy folder: explanations.yaml goes there.")
@click.pass_context
def explain_approve(ctx, template_id, site_policies):
    """Approve a template into the site's policy (explanations.yaml): from then on it explains the
    accesses it covers, except sensitive record types. The signed-in privacy officer approves."""
    vault = open_vault(ctx)
    try:
        by = acting(ctx, vault, PRIVACY_OFFICER)
        template = approve(vault, template_id, site_policies, by, vault.clock.now().date())
    finally:
        vault.close()
    click.echo(f"explanation template {template.id} approved by {by}: {template.sentence}; "
               f"written to {site_policies / 'explanations.yaml'}")


@explain.command("list")
@click.option("--site-policies", type=_DIR, required=True, help="The site's policy folder.")
def explain_list(site_policies):
    """The templates the site approved (checked as auditor policy lint checks them)."""
    approved = load_policy(site_dir=site_policies).settings.explanations.approved
    if not approved:
        raise InputError(f"no approved explanation template in {site_policies}")
    for a in approved:
        click.echo(f"{a.template.id}\tapproved by {a.approved_by} on {a.approved_on}\t{a.template.sentence}")

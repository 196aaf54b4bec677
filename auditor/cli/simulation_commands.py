"""auditor simulate | auditor evaluate: the synthetic hospital and the rules scored against its labels."""

from __future__ import annotations

import re
import time
from pathlib import Path

import click

from auditor.cli import cli
from auditor.cases.settings import load_case_settings
from auditor.cli.engines import engine_choice, engine_options
from auditor.cli.session import open_vault
from auditor.cli.signed_in import require_role
from auditor.errors import InputError
from auditor.staff.roles import INVESTIGATOR, PRIVACY_OFFICER

MAX_EVENTS_PER_MEMBER = 180  # beyond this a member's day would pass excessive-volume's thresholds


def _month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise InputError(f"--month {value!r} is not a YYYY-MM month")
    return value


def _positive(name: str, value: int | None, least: int) -> None:
    if value is not None and value < least:
        raise InputError(f"--{name} must be at least {least}")


@cli.command()
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="A new directory to write.")
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same hospital, same month.")
@click.option("--events", default=200_000, show_default=True, type=int, help="Access-log events in the month.")
@click.option("--patients", type=int, help="Patients (default: one per 10 events).")
@click.option("--workforce", type=int, help="Workforce members (default: one per 150 events).")
@click.option("--month", default="2026-11", show_default=True, help="The month simulated (YYYY-MM).")
@click.option("--tz", "tz_name", default="America/New_York", show_default=True, help="The hospital's time zone.")
@click.option("--synthea", type=click.Path(path_type=Path), help="A Synthea csv folder: the first patients take its names and dates.")
def simulate(out, seed, events, patients, workforce, month, tz_name, synthea):
    """Write a synthetic hospital's month as an interchange directory, with labels.csv beside it.

    Workforce with roles, departments, shifts and homes; households; patients; encounters and care
    teams; a month of explained accesses and labelled violations of every rule (well under 1%).
    Load it with: auditor ingest DIR --tz ZONE."""
    from auditor.simulation.writer import EVENTS_PER_MEMBER, write_hospital
    from auditor.vault.settings import time_zone

    _month(month)
    time_zone(tz_name)
    _positive("events", events, 1_000)
    _positive("patients", patients, 200)
    _positive("workforce", workforce, 60)
    members = workforce or max(100, events // EVENTS_PER_MEMBER)
    if events > members * MAX_EVENTS_PER_MEMBER:
        raise InputError(f"{events} events are too many for {members} workforce members: give --workforce "
                         f"{-(-events // MAX_EVENTS_PER_MEMBER)} or more")
    if seed < 0:
        raise InputError("--seed must be 0 or more")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} exists and is not an empty directory")
    if synthea is not None and not synthea.is_dir():
        raise InputError(f"{synthea} is not a directory")
    started = time.perf_counter()
    result = write_hospital(out, seed, events=events, patients=patients, workforce=workforce, month=month,
                            zone=tz_name, synthea=synthea)
    for name, rows in result.rows.items():
        click.echo(f"{name}: {rows} rows")
    labelled = ", ".join(f"{rule} {n}" for rule, n in sorted(result.label_counts.items()))
    share = result.injected_events / max(result.rows["access_log.csv"], 1)
    click.echo(f"labels.csv: {result.injected_events} injected events ({share:.2%}); labelled events per rule: "
               f"{labelled}")
    click.echo(f"written to {out} in {time.perf_counter() - started:.1f}s (seed {seed}); load it with: "
               f"auditor ingest {out} --tz {tz_name}")


@cli.command()
@click.option("--labels", "labels_path", required=True, type=click.Path(path_type=Path),
              help="labels.csv written by auditor simulate.")
@click.option("--from", "first", help="First local day (YYYY-MM-DD); default: the simulated month's.")
@click.option("--to", "last", help="Last local day (YYYY-MM-DD); default: the simulated month's.")
@click.option("--source", default="ehr", show_default=True, help="The source name the export was ingested under.")
@click.option("--site-policies", type=click.Path(file_okay=False, path_type=Path),
              help="The site's policy folder: its rules, approved explanation templates and cases.yaml (review_budget).")
@engine_choice
@click.pass_context
def evaluate(ctx, labels_path, first, last, source, site_policies, engine, master, export_dir, part_events):
    """Score the rules against a simulation's labels: per-rule precision and recall (event level)
    and the share of normal traffic explained; how the triage order serves the labelled events (the
    share inside the review budget, the risk score's ROC AUC). Run after auditor ingest of the
    simulated directory. With --engine spark the rules run on a cluster, which counts what the scores
    need there (a privacy officer or an investigator signed in: the period is exported in their name)."""
    from datetime import date

    from auditor.policy.frames import Period
    from auditor.policy.rules import load_policy
    from auditor.simulation.evaluation import in_period, label_tally, read_labels, render, scored, simulated_month

    labels = read_labels(labels_path)
    if (first is None) != (last is None):
        raise InputError("give both --from and --to, or neither (the simulated month)")
    try:
        days = (date.fromisoformat(first), date.fromisoformat(last)) if first else simulated_month(labels_path)
    except ValueError:
        raise InputError("--from and --to must be YYYY-MM-DD dates") from None
    if days[1] < days[0]:
        raise InputError("--to is before --from")
    policy = load_policy(site_dir=site_policies)
    settings = load_case_settings(site_dir=site_policies)
    judge_on = engine_options(engine, master, export_dir, part_events)  # checked before any work
    vault = open_vault(ctx)
    try:
        tz = vault.stored_timezone
        if tz is None:
            raise InputError("no organisation time zone is stored: ingest the simulated directory first "
                             "(auditor ingest DIR --tz ZONE)")
        period = Period(days[0], days[1], tz)
        member = None  # this machine's engine reads no name and exports nothing: no one need sign in
        if engine == "spark":
            member = require_role(ctx, vault, PRIVACY_OFFICER, INVESTIGATOR).account.user_name
        detection = judge_on(member, label_tally(in_period(labels, period), source))(vault, period, policy)
        result = scored(detection, policy, labels, period, source, budget=settings.review_budget)
    finally:
        vault.close()
    click.echo(render(result), nl=False)

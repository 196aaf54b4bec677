"""auditor retention schedules | plan | purge | certificate, auditor retention holds place | list | release,
and the log's own retention: auditor audit archive | verify-archive.

Thin: parses, calls auditor.review.retention, prints. Everything runs as the service account svc:retention
for records management, so each hold, each birth date read for the minors rule, each MRN shown, each
plan and each destruction is in the audit log. A records manager signed in (auditor login) runs
`plan --as-of DAY` (which records plan N and prints its digest), reviews it, then `purge --plan N`,
which asks before it destroys and names that account as approver and performer; a witness, if the
office wants one, is another account that confirms at the same terminal with its own password and
code. Every command that reads the vault needs the records manager; `schedules` and `audit
verify-archive` change and show nothing of a patient. A refused command is one line and exit 2, with
nothing changed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from auditor.cli import cli
from auditor.cli.audit_commands import audit as audit_group
from auditor.cli.session import day_option, opened
from auditor.cli.signed_in import acting, ask_password, gone, require_role, second_person
from auditor.phi_files import write_private
from auditor.reporting.templates import load_site
from auditor.retention.holds import HoldRequest
from auditor.retention.purge import PurgeRefused, Signatories, signatories
from auditor.retention.schedules import lint_schedules
from auditor.review import retention as records_office
from auditor.staff.desk import Account
from auditor.staff.roles import RECORDS_MANAGER

_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
_FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
_SCHEDULES = click.option("--schedules", "schedules_dir", type=_DIR,
                          help="A folder of retention schedules (default: policies/retention).")
_STATE = click.option("--state", help="The state whose schedule applies (two letters; default: the default schedule).")
_AS_OF = click.option("--as-of", "as_of", required=True, help="The day the schedule is applied on (YYYY-MM-DD).")


@cli.group()
def retention():
    """Retention schedules, legal holds, and purge by crypto-shredding."""


@retention.command("schedules")
@_SCHEDULES
def schedules_command(schedules_dir):
    """Check the schedule files (every problem as file:line, exit 2) and list them."""
    problems, schedules = lint_schedules(schedules_dir)
    if problems:
        for p in problems:
            click.echo(str(p), err=True)
        sys.exit(2)
    for s in sorted(schedules.values(), key=lambda s: s.state):
        types = ", ".join(f"{t} {y}y" for t, y in sorted(s.record_types.items())) or "none"
        click.echo(f"{s.state}: {s.title} ({s.id}): adults {s.adult_years} years after the last encounter; minors "
                   f"until {s.majority_age} + {s.years_after_majority} years; own periods: {types}; permanent: "
                   f"{', '.join(sorted(s.permanent)) or 'none'}")


@retention.command("plan")
@_AS_OF
@_STATE
@_SCHEDULES
@_FORMAT
@click.pass_context
def plan_command(ctx, as_of, state, schedules_dir, fmt):
    """Which patients the schedule lets go on a day (today at the latest), which a legal hold keeps, and
    why; the eligible ones are recorded as a plan (an id and a digest) that `purge --plan ID` carries out."""
    day = day_option(as_of, "--as-of")
    with opened(ctx) as vault:
        require_role(ctx, vault, RECORDS_MANAGER)
        planned = records_office.plan_retention(vault, day, state=state, schedules_dir=schedules_dir)
    plan, recorded = planned.plan, planned.recorded
    rows = [p.to_dict() for p in planned.shown]
    if fmt == "json":
        click.echo(json.dumps({"as_of": day.isoformat(), "schedule": plan.schedule.id, "counts": plan.counts(),
                               "plan": {"id": recorded.id, "digest": recorded.digest, "eligible": len(recorded.patients)}
                               if recorded else None, "patients": rows}, indent=2))
        return
    counts = plan.counts()
    click.echo(f"retention plan on {day} under {plan.schedule.id} ({plan.schedule.state}): "
               + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items()))
    for r in rows:
        why = ("; held by " + "; ".join(f"hold {h['id']} ({h['authority']}: {h['scope']})" for h in r["holds"])
               if r["status"] == "held" else "")
        click.echo(f"{r['status']}: patient {r['patient_id']} MRN {r['mrn']}, records {r['first_record']} to "
                   f"{r['last_record']}, kept until {r['retain_until']} ({r['basis']}){why}")
    if recorded is None:
        click.echo("no patient is eligible: no plan recorded")
        return
    click.echo(f"plan {recorded.id} recorded: {len(recorded.patients)} patient(s) to destroy, patients sha256 "
               f"{recorded.digest}")
    click.echo(f"review it, then: auditor retention purge --plan {recorded.id}")


def _confirm(summary: str, yes: bool) -> None:
    """Show what the purge destroys and ask: crypto-shredding cannot be undone."""
    click.echo(summary)
    if yes:
        return
    if not sys.stdin.isatty():
        raise PurgeRefused("nothing destroyed: a purge asks for confirmation at a terminal; add --yes to confirm "
                           "from a script")
    if not click.confirm("Destroy them?", default=False):
        click.echo("not confirmed: nothing destroyed", err=True)
        sys.exit(1)


def _witness(vault, user: str | None, password_stdin: bool, code: str | None, approver: Account) -> str | None:
    """The witness's user name, once the account confirmed with its own password and code; None without one."""
    if user is None:
        return None
    password = ask_password(password_stdin, f"Password of the witness {user.strip()}", False, "--witness-password-stdin")
    return second_person(vault, user, password, code, approver, "witness of the purge").user_name


_APPROVES = "the signed-in records manager approves and performs a purge: auditor login USER"


@retention.command("purge")
@click.option("--plan", "plan_id", type=int, help="The plan to carry out, as printed by `auditor retention plan`.")
@gone("--approver", _APPROVES)
@gone("--performer", _APPROVES)
@click.option("--witness", "witness_user", help="Another staff account, present at this terminal, that witnesses the "
              "purge: it confirms with its own password and TOTP code, and the certificate names it.")
@click.option("--witness-password-stdin", is_flag=True, help="Read the witness's password from standard input.")
@click.option("--witness-totp", "witness_code", help="The witness's TOTP code (asked for if not given).")
@click.option("--yes", is_flag=True, help="Confirm without asking (scripts); the plan must have been reviewed.")
@click.option("--as-of", "as_of", help="Only to finish a purge begun by --as-of before purges carried out plans.")
@_STATE
@_SCHEDULES
@click.option("--site", "site_dir", type=_DIR, help="A site folder (organisation, logo, templates).")
@click.option("--no-pdf", is_flag=True, help="Write the certificate as HTML only.")
@click.pass_context
def purge_command(ctx, plan_id, witness_user, witness_password_stdin, witness_code, yes, as_of, state, schedules_dir,
                  site_dir, no_pdf):
    """Carry out a reviewed plan: destroy exactly its patients' records by crypto-shredding (or nothing,
    if the eligible patients changed since) and issue the certificate of destruction, which names the
    signed-in records manager as approver and performer. Asks for confirmation. An interrupted purge
    is finished by running the same command again."""
    if (plan_id is None) == (as_of is None):
        raise click.UsageError("give --plan ID, the plan printed by: auditor retention plan --as-of DAY"
                               + (" (not with --as-of)" if plan_id is not None else ""))
    if witness_user is None and (witness_password_stdin or witness_code):
        raise click.UsageError("--witness-password-stdin and --witness-totp go with --witness USER")
    day = day_option(as_of, "--as-of")
    site = load_site(site_dir)
    with opened(ctx) as vault:
        approver = require_role(ctx, vault, RECORDS_MANAGER).account
        proposal = records_office.propose_purge(vault, plan_id=plan_id, as_of=day, state=state,
                                                schedules_dir=schedules_dir)
        _confirm(proposal.description, yes)
        witness = _witness(vault, witness_user, witness_password_stdin, witness_code, approver)
        people = signatories(Signatories(approver.user_name, approver.user_name, witness))
        done = records_office.carry_out_purge(vault, proposal, people, site, pdf=not no_pdf)
    outcome, cert = done.outcome, done.certificate
    verb = "resumed and finished" if outcome.resumed else "finished"
    click.echo(f"purge {outcome.purge_id} {verb}: {cert.destroyed} patient(s) destroyed by crypto-shredding"
               + (f", {outcome.withdrawn} withdrawn, no longer eligible" if outcome.withdrawn else ""))
    for kind, path in cert.paths.items():
        click.echo(f"certificate ({kind}): {path}")


@retention.command("certificate")
@click.argument("purge_id", type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the HTML here (default: stdout).")
@click.pass_context
def certificate_command(ctx, purge_id, out):
    """The certificate of destruction of a purge, as kept in the database, with its SHA-256."""
    with opened(ctx) as vault:
        require_role(ctx, vault, RECORDS_MANAGER)
        html, digest = records_office.certificate(vault, purge_id)
    if out:
        write_private(out, html)
        click.echo(f"certificate of purge {purge_id}: {out} (sha256 {digest})")
    else:
        click.echo(html)


@retention.group("holds")
def holds():
    """Legal holds: what they cover is never purged while they are in force."""


@holds.command("place")
@click.option("--mrn", help="The patient it covers.")
@click.option("--record-type", help="The record type it covers (a document type, or 'encounter').")
@click.option("--from", "covers_from", help="It covers records dated from this day (YYYY-MM-DD).")
@click.option("--to", "covers_to", help="It covers records dated up to this day (YYYY-MM-DD).")
@click.option("--reason", required=True, help="Why (sealed: it may name a patient).")
@click.option("--authority", required=True, help="Who ordered it: counsel, a court, a regulator.")
@gone("--by")
@click.pass_context
def holds_place(ctx, mrn, record_type, covers_from, covers_to, reason, authority):
    """Place a legal hold on a patient, a record type, a date range, or their intersection (the
    signed-in records manager places it)."""
    covers = day_option(covers_from, "--from"), day_option(covers_to, "--to")
    with opened(ctx) as vault:
        request = HoldRequest(reason, authority, acting(ctx, vault, RECORDS_MANAGER), mrn, record_type, *covers)
        hold_id = records_office.place_hold(vault, request)
    click.echo(f"legal hold {hold_id} placed")


@holds.command("release")
@click.argument("hold_id", type=int)
@click.option("--reason", required=True, help="Why it is released (sealed).")
@gone("--by")
@click.pass_context
def holds_release(ctx, hold_id, reason):
    """Release a legal hold (final; it stays listed): the signed-in records manager releases it."""
    with opened(ctx) as vault:
        records_office.release_hold(vault, hold_id, reason, acting(ctx, vault, RECORDS_MANAGER))
    click.echo(f"legal hold {hold_id} released")


@holds.command("list")
@_FORMAT
@click.pass_context
def holds_list(ctx, fmt):
    """Every legal hold, in force or released, with its reasons (read through the gateway, audited)."""
    with opened(ctx) as vault:
        require_role(ctx, vault, RECORDS_MANAGER)
        rows = [h.to_dict() for h in records_office.list_holds(vault)]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no legal holds")
    for r in rows:
        released = f"; released by {r['released_by']}: {r['release_reason']}" if r["released_by"] else ""
        click.echo(f"{r['id']} [{r['status']}] {r['scope']}; {r['authority']}; placed by {r['placed_by']}: "
                   f"{r['reason']}{released}")


# -- the log's own retention (45 CFR 164.530(j)): archive events older than six years -----------------------
@audit_group.command("archive")
@click.option("--before", required=True, help="Archive the events older than this day, UTC (YYYY-MM-DD); at least "
              "six years ago.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The archive file to write.")
@click.pass_context
def audit_archive(ctx, before, out):
    """Export the oldest events with a signed checkpoint to FILE, verify it, then remove them from the
    database (their leaf hashes stay, so the log still verifies). Keep the file as long as required.
    A records manager signed in runs it: the events leave the database."""
    day = day_option(before, "--before")
    with opened(ctx) as vault:
        require_role(ctx, vault, RECORDS_MANAGER)
        done = records_office.archive_audit_log(vault, day, out)
    if done is None:
        click.echo(f"nothing to archive before {day}")
        return
    click.echo(f"events {done.first_seq}..{done.last_seq} archived to {done.path} (sha256 {done.sha256}) "
               "and removed from the database")


@audit_group.command("verify-archive")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def audit_verify_archive(ctx, archive):
    """Check an archive file on its own with the keyring. Exit 1 when it does not verify."""
    with opened(ctx) as vault:
        check = records_office.check_log_archive(vault, archive)
    click.echo(("OK: " if check.ok else "TAMPERED: ") + check.message)
    if not check.ok:
        sys.exit(1)

"""auditor suppressions add | list | revoke, auditor cases list | show | review | close | note.

Thin: parses, calls auditor.review.casework, prints. A refused change is one
line and exit 2, with nothing changed. Outputs naming MRNs, reasons or notes hold PHI: they are read
through the gateway, audited. Each command needs a signed-in account (auditor login): a privacy
officer approves and revokes suppressions and closes cases; an investigator also lists, reads,
reviews and notes cases. The account's user name is what the history and the audit log record."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from auditor.cases import workflow
from auditor.cases.listing import CaseSummary
from auditor.cases.settings import load_case_settings
from auditor.cli import cli
from auditor.cli.session import day_option, opened
from auditor.cli.signed_in import acting, gone, require_role
from auditor.errors import InputError
from auditor.policy.rules import load_policy
from auditor.policy.suppressions import SuppressionRequest
from auditor.review import casework as office
from auditor.staff.roles import INVESTIGATOR, OFFICE_REVIEW, PRIVACY_OFFICER

_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
_FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
_CASEWORK = (PRIVACY_OFFICER, INVESTIGATOR)  # who works the cases; only an officer decides (closes, suppresses)


# -- suppressions -------------------------------------------------------------------------------------
@cli.group()
def suppressions():
    """Approved exceptions: matching findings are kept and marked muted."""


@suppressions.command("add")
@click.option("--rule", required=True, help="The rule id (policies/rules/<id>.yaml).")
@click.option("--user", "user_id", help="The workforce member's user id.")
@click.option("--mrn", help="The patient's medical record number (stored as an internal id).")
@click.option("--reason", required=True, help="Why (sealed: it may name a patient).")
@click.option("--expires", required=True, help="Last local day it applies (YYYY-MM-DD).")
@gone("--approver", "the signed-in privacy officer approves it: auditor login USER")
@click.option("--site-policies", type=_DIR, help="A folder of the site's rules (their ids are known too).")
@click.pass_context
def suppressions_add(ctx, rule, user_id, mrn, reason, expires, site_policies):
    """Add a suppression of RULE for a user, a patient, or both, approved by the signed-in privacy officer."""
    expires_on = day_option(expires, "--expires")
    known = set(load_policy(site_dir=site_policies).rules)
    with opened(ctx) as vault:
        approver = acting(ctx, vault, PRIVACY_OFFICER)
        request = SuppressionRequest(rule, reason, expires_on, approver, user_id, mrn)  # type: ignore[arg-type]
        sid = office.add_suppression(vault, request, known)
        muted = office.cases_muted_by(vault, sid)
    click.echo(f"suppression {sid} added: {rule}, expires {expires_on}" + _in_cases(muted, "muted"))


def _in_cases(counts: dict[int, int], done: str) -> str:
    """"; 2 finding(s) muted in case 4, 7" (cases not closed), or nothing."""
    if not counts:
        return ""
    return f"; {sum(counts.values())} finding(s) {done} in case {', '.join(map(str, counts))}"


@suppressions.command("list")
@_FORMAT
@click.pass_context
def suppressions_list(ctx, fmt):
    """Every suppression: active, expired or revoked, with its reason."""
    with opened(ctx) as vault:
        require_role(ctx, vault, *_CASEWORK)
        rows = [s.to_dict() for s in office.list_suppressions(vault)]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for r in rows:
        who = " ".join(x for x in (f"user {r['user_id']}" if r["user_id"] else "",
                                    f"mrn {r['mrn']}" if r["mrn"] else "") if x)
        click.echo(f"{r['id']}\t{r['status']}\t{r['rule']}\t{who}\texpires {r['expires']}\t"
                   f"approved by {r['approver']}\t{r['reason']}")
    click.echo(f"{len(rows)} suppression(s)", err=True)


@suppressions.command("revoke")
@click.argument("suppression_id", type=int)
@click.option("--reason", required=True, help="Why it is withdrawn (sealed).")
@gone("--by")
@click.pass_context
def suppressions_revoke(ctx, suppression_id, reason):
    """Withdraw a suppression (the signed-in privacy officer): it mutes nothing from now on; what it muted
    in cases not closed is un-muted (unless another active suppression matches it)."""
    with opened(ctx) as vault:
        unmuted = office.revoke_suppression(vault, suppression_id, reason, acting(ctx, vault, PRIVACY_OFFICER))
    click.echo(f"suppression {suppression_id} revoked" + _in_cases(unmuted, "un-muted"))


# -- cases ----------------------------------------------------------------------------------------------
@cli.group()
def cases():
    """The privacy office's cases: one per member and period, reviewed and closed."""


def _decided(c: CaseSummary) -> str:
    return f"\t{c.disposition}, sanction {c.sanction}" if c.status == workflow.CLOSED else ""


def _summary_line(c: CaseSummary) -> str:
    """The case's line in `cases show`: what it is, its findings, its decision and its flags."""
    late = ("\tCRITICAL" if c.critical else "") + ("\tOVERDUE" if c.overdue else "")
    return (f"{c.id}\t{c.status}\t{c.user_id}\t{c.first_day} to {c.last_day}\t{c.counted}, "
            f"max risk {c.max_risk}\t{c.user_cases} case(s) for this user{_decided(c)}{late}")


def _listed_line(c) -> str:
    """The case's line in `cases list`: its rank, then the case with its highest severity, risk and
    rules; marked past the budget."""
    s = c.case
    late = ("\tOVERDUE" if s.overdue else "") + ("" if c.inside_budget else "\tPAST THE REVIEW BUDGET")
    return (f"{c.rank}.\tcase {s.id}\t{s.status}\t{s.user_id}\t{s.first_day} to {s.last_day}\t{c.severity or '-'}\t"
            f"risk {s.max_risk}\t{','.join(c.rules) or '-'}\t{s.counted}\t{s.user_cases} case(s) for this user"
            f"{_decided(s)}{late}")


@cases.command("list")
@click.option("--status", type=click.Choice([*workflow.STATUSES, "overdue"]), help="Only cases with this status.")
@click.option("--from", "first", help="Only cases covering days from this one (YYYY-MM-DD).")
@click.option("--to", "last", help="Only cases covering days up to this one (YYYY-MM-DD).")
@click.option("--site-policies", type=_DIR, help="A folder with the site's cases.yaml.")
@_FORMAT
@click.pass_context
def cases_list(ctx, status, first, last, site_policies, fmt):
    """Cases in triage order: critical first, then risk (as the web app's queue and the report): rank,
    case, status, member, days, highest severity, risk, rules; the first review_budget (policies/
    cases.yaml) are inside the review budget, and the rest are summed up by rule at the end."""
    first_day, last_day = day_option(first, "--from"), day_option(last, "--to")
    if first_day and last_day and last_day < first_day:
        raise InputError("--to is before --from")
    settings = load_case_settings(site_dir=site_policies)
    with opened(ctx) as vault:
        require_role(ctx, vault, *_CASEWORK)
        found, budget = office.case_listing(vault, settings, status=status, first_day=first_day, last_day=last_day)
    if fmt == "json":
        click.echo(json.dumps([c.to_dict() for c in found], indent=2))
        return
    for c in found:
        click.echo(_listed_line(c))
    click.echo(f"{len(found)} case(s); review budget {budget.size} a month: {budget.inside} inside it"
               + (f", {budget.beyond} past it, by rule: " + ", ".join(f"{r} {n}" for r, n in budget.beyond_by_rule.items())
                  if budget.beyond else ""), err=True)


@cases.command("show")
@click.argument("case_id", type=int)
@click.option("--site-policies", type=_DIR, help="A folder with the site's cases.yaml.")
@_FORMAT
@click.pass_context
def cases_show(ctx, case_id, site_policies, fmt):
    """One case: its findings with their sentences, and its history with the notes."""
    settings = load_case_settings(site_dir=site_policies)
    with opened(ctx) as vault:
        signed_in = require_role(ctx, vault, *_CASEWORK)
        role = next(r for r in _CASEWORK if signed_in.account.holds(r))
        file = office.case_file(vault, case_id, settings)
        glass = office.break_glass_reasons(vault, file, signed_in.access_context(OFFICE_REVIEW, role=role))
        zone = vault.timezone
    if fmt == "json":
        click.echo(json.dumps({**file.to_dict(), "break_glass": [g.to_dict() for g in glass]}, indent=2,
                              ensure_ascii=False))
        return
    click.echo(_summary_line(file.case))
    click.echo("findings:")
    for f in file.findings:
        muted = f"\tMUTED by suppression {f.muted_by}" if f.muted else ""
        click.echo(f"  {f.rule} ({f.severity}, risk {f.risk}) mrn {f.mrn or '-'} events {';'.join(f.event_ids)}{muted}")
        click.echo(f"    {f.explanation}")
    if glass:
        click.echo("break-the-glass accesses its findings cite (reasons opened as you: audited):")
    for g in glass:
        click.echo(f"  {g.at:%Y-%m-%d %H:%M %Z} {g.action}: " + (
            f"reason: {g.reason}" if g.reason is not None else "reason on file, not yours to open" if g.on_file
            else "no reason given"))
    click.echo("history:")
    for h in file.history:
        extra = "".join(f"; {x}" for x in (h.detail,) if x)
        click.echo(f"  {datetime.fromisoformat(h.at).astimezone(zone):%Y-%m-%d %H:%M %Z} {h.action} by {h.by} "
                   f"-> {h.status}{extra}")
        if h.note:
            click.echo(f"    note: {h.note}")


@cases.command("review")
@click.argument("case_id", type=int)
@click.option("--note", help="A note for the file (sealed).")
@gone("--by")
@click.pass_context
def cases_review(ctx, case_id, note):
    """Put an open case under review (a privacy officer or an investigator, signed in)."""
    with opened(ctx) as vault:
        office.start_review(vault, case_id, acting(ctx, vault, *_CASEWORK), note)
    click.echo(f"case {case_id} under review")


@cases.command("close")
@click.argument("case_id", type=int)
@click.option("--disposition", required=True, type=click.Choice(workflow.DISPOSITIONS))
@click.option("--sanction", required=True, type=click.Choice(workflow.SANCTIONS))
@click.option("--note", help="A note for the file (sealed).")
@gone("--by")
@click.pass_context
def cases_close(ctx, case_id, disposition, sanction, note):
    """Close a case under review with its disposition and sanction (a sanction only for a confirmed
    violation): the signed-in privacy officer decides."""
    workflow.check_decision(disposition, sanction)  # before opening the vault: nothing to change
    with opened(ctx) as vault:
        office.close_case(vault, case_id, disposition, sanction, acting(ctx, vault, PRIVACY_OFFICER), note)
    click.echo(f"case {case_id} closed: {disposition}, sanction {sanction}")


@cases.command("note")
@click.argument("case_id", type=int)
@click.option("--text", required=True, help="The note (sealed).")
@gone("--by")
@click.pass_context
def cases_note(ctx, case_id, text):
    """Add a note to a case's file (a privacy officer or an investigator, signed in)."""
    with opened(ctx) as vault:
        office.add_note(vault, case_id, acting(ctx, vault, *_CASEWORK), text)
    click.echo(f"note added to case {case_id}")

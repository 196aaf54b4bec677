"""auditor roi request | review | authorize | fulfill | deny | extend | close | queue | accounting | suspend.

Thin: parses, calls auditor.review.release, prints. A refused change is one line and exit 2 with nothing changed.
Packets, letters and accountings hold PHI: they are written owner-only, with the change they go with
or not at all (a full disk or an unwritable --out leaves the request as it was). Every command needs a
signed-in release-of-information coordinator (auditor login), whose user name each change records."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from auditor.cli import cli
from auditor.cli.session import day_option, opened
from auditor.cli.signed_in import acting, gone, require_role
from auditor.reporting.templates import load_site
from auditor.review import release
from auditor.roi import workflow
from auditor.roi.fulfilment import DENIAL_BASES
from auditor.roi.permissions import read_form
from auditor.roi.policy import load_roi_policy
from auditor.staff.roles import ROI_COORDINATOR

_OUT = click.Path(file_okay=False, path_type=Path)
_SITE = click.option("--site", type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="The site folder (organisation name, logo, template overrides).")
_BY = gone("--by")


@cli.group()
def roi():
    """Release of information: requests, authorizations, releases, denials, the accounting of disclosures.

    \b
    A request's life: received -> in_review -> (waiting_for_information) -> approved / partly_approved /
    denied -> fulfilled -> closed. Typical day, signed in as a coordinator (auditor login ME):
      auditor roi queue                                   what is due and overdue
      auditor roi request --mrn M --requester-type patient --name N --address A
      auditor roi review 12                               start the review
      auditor roi authorize 12 --form signed.yaml         (third parties, legal process, sensitive records)
      auditor roi fulfill 12 --out ./packet-12            release packet, invoice, ledger entry
    """


@roi.command("request")
@click.option("--mrn", required=True, help="The patient's medical record number.")
@click.option("--requester-type", required=True,
              type=click.Choice(["patient", "personal_representative", "third_party", "attorney", "law_enforcement",
                                 "public_health", "provider", "insurer"]), help="Who asks.")
@click.option("--name", "requester_name", required=True, help="The requester's name (sealed).")
@click.option("--address", required=True, help="Where the records go (sealed).")
@click.option("--received", help="Day the request was received (YYYY-MM-DD; default today).")
@click.option("--types", default="", help="Record types asked for, comma separated (default: all).")
@click.option("--from", "first", help="First day of the records asked for (YYYY-MM-DD).")
@click.option("--to", "last", help="Last day of the records asked for (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(workflow.FORMATS), default="pdf", show_default=True,
              help="paper, pdf, or fhir (an electronic FHIR R4 Bundle).")
@click.option("--legal-process", type=click.Choice(["subpoena", "court_order"]), help="For an attorney's request.")
@click.option("--state", help="The state whose shorter deadline applies (policies/roi/deadlines.yaml).")
@click.option("--accounting", is_flag=True, help="The patient asks for an accounting of disclosures (60 days).")
@_BY
@click.pass_context
def roi_request(ctx, mrn, requester_type, requester_name, address, received, types, first, last, fmt, legal_process,
                state, accounting):
    """Log a new request; prints its id (the due date is in `auditor roi queue`)."""
    policy = load_roi_policy()
    new = workflow.NewRequest(mrn, requester_type, requester_name, address, day_option(received, "--received"),
                              tuple(t.strip() for t in types.split(",") if t.strip()), day_option(first, "--from"),
                              day_option(last, "--to"), fmt, legal_process, state, accounting)
    with opened(ctx) as vault:
        request_id = release.open_request(vault, new, acting(ctx, vault, ROI_COORDINATOR), policy)
    click.echo(request_id)


@roi.command("review")
@click.argument("request_id", type=int)
@click.option("--waiting-for", help="What is missing: the request waits for information (sealed).")
@_BY
@click.pass_context
def roi_review(ctx, request_id, waiting_for):
    """Start (or resume) the review of a request, or park it waiting for information."""
    with opened(ctx) as vault:
        status = release.review_request(vault, request_id, acting(ctx, vault, ROI_COORDINATOR), waiting_for)
    click.echo(f"request {request_id}: {status}")


@roi.command("authorize")
@click.argument("request_id", type=int)
@click.option("--form", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The permission as YAML/JSON (kind, covers, the 164.508(c) elements) or a FHIR R4 Consent (JSON).")
@click.option("--on", "on", help="Day it is checked on (default today).")
@_BY
@click.pass_context
def roi_authorize(ctx, request_id, form, on):
    """Check a permission against its checklist and record it; every missing element is named.

    \b
    A form (YAML or JSON), e.g. a 45 CFR 164.508(c) authorization:
      kind: authorization        # or psychotherapy_authorization, part2_consent, court_order, assurance
      covers: [general]          # sensitivities it opens: hiv, genetic, mental_health, substance_use, ...
      description: labs and conditions of 2026
      disclosing_party: General Hospital HIM
      recipient: Acme Life Insurance, 1 Policy Way
      purpose: at the request of the individual
      expires_on: 2027-06-30     # or expiration_event: end of the claim review
      signature: Zoe Muller
      signed_on: 2026-10-01
      statement_revocation: ...  statement_conditioning: ...  statement_redisclosure: ...
    The checklists are policies/roi/authorization.yaml. A FHIR R4 Consent (.json) is read as well.
    """
    policy = load_roi_policy()
    permission = read_form(form)
    day = day_option(on, "--on")
    with opened(ctx) as vault:
        pid = release.authorize(vault, request_id, permission, acting(ctx, vault, ROI_COORDINATOR), day, policy)
    click.echo(f"request {request_id}: {permission.kind} {pid} recorded")


@roi.command("fulfill")
@click.argument("request_id", type=int)
@click.option("--out", required=True, type=_OUT, help="Folder for the release packet (owner-only).")
@_SITE
@_BY
@click.pass_context
def roi_fulfill(ctx, request_id, out, site):
    """Approve (in full or in part) and release: packet PDF, invoice, FHIR bundle, ledger entry."""
    policy = load_roi_policy()
    with opened(ctx) as vault:
        done = release.fulfil(vault, request_id, acting(ctx, vault, ROI_COORDINATOR), out, load_site(site), policy)
    click.echo(f"request {request_id}: {done.status.replace('_', ' ')} and fulfilled; {done.documents} document(s); "
               f"ledger entry {done.disclosure_id}")
    for s, why in sorted(done.withheld.items()):
        click.echo(f"  withheld {s}: {why}")
    for p in done.paths:
        click.echo(str(p))


@roi.command("deny")
@click.argument("request_id", type=int)
@click.option("--basis", required=True, type=click.Choice(sorted(DENIAL_BASES)), help="The ground of the denial.")
@click.option("--contact", required=True, help="Who the requester may write to (privacy office).")
@click.option("--out", required=True, type=_OUT, help="Folder for the denial letter (owner-only).")
@_SITE
@_BY
@click.pass_context
def roi_deny(ctx, request_id, basis, contact, out, site):
    """Deny a request and write the letter: basis, review rights, how to complain, contact."""
    with opened(ctx) as vault:
        paths = release.deny(vault, request_id, basis, acting(ctx, vault, ROI_COORDINATOR), contact, out,
                             load_site(site))
    click.echo(f"request {request_id}: denied")
    for p in paths:
        click.echo(str(p))


@roi.command("extend")
@click.argument("request_id", type=int)
@click.option("--notice-on", required=True, help="Day the written notice went to the requester (YYYY-MM-DD).")
@click.option("--reason", required=True, help="The reason the notice gave (sealed).")
@_BY
@click.pass_context
def roi_extend(ctx, request_id, notice_on, reason):
    """The one extension (30 days) allowed with a written notice inside the first period."""
    notice = day_option(notice_on, "--notice-on")
    with opened(ctx) as vault:
        due = release.extend(vault, request_id, notice, reason, acting(ctx, vault, ROI_COORDINATOR))  # type: ignore[arg-type]
    click.echo(f"request {request_id}: due {due.isoformat()}")


@roi.command("close")
@click.argument("request_id", type=int)
@_BY
@click.pass_context
def roi_close(ctx, request_id):
    """Close a fulfilled or denied request."""
    with opened(ctx) as vault:
        release.close(vault, request_id, acting(ctx, vault, ROI_COORDINATOR))
    click.echo(f"request {request_id}: closed")


@roi.command("queue")
@click.option("--as-of", help="The day to measure against (default today).")
@click.option("--within", type=click.IntRange(0), default=7, show_default=True, help="Days ahead that count as due.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def roi_queue(ctx, as_of, within, fmt):
    """Open requests, overdue first, with their due dates."""
    day = day_option(as_of, "--as-of")
    with opened(ctx) as vault:
        require_role(ctx, vault, ROI_COORDINATOR)
        entries = release.request_queue(vault, day, within)
    if fmt == "json":
        click.echo(json.dumps([asdict(e) for e in entries], default=str, indent=2))
        return
    for e in entries:
        click.echo(f"{e.request_id:>6}  {e.standing:<8} due {e.due_on}  ({e.days_left:+d} days)  {e.status:<24} "
                   f"{e.kind}  {e.requester_type}{'  extended' if e.extended else ''}")
    click.echo(f"{sum(e.standing == 'overdue' for e in entries)} overdue, {sum(e.standing == 'due' for e in entries)} "
               f"due within {within} days, {len(entries)} open")


@roi.command("accounting")
@click.option("--mrn", required=True, help="The patient's medical record number.")
@click.option("--from", "first", help="First day (default: six years back, 45 CFR 164.528(a)(1)).")
@click.option("--as-of", help="Last day (default today).")
@click.option("--out", required=True, type=_OUT, help="Folder for accounting.html and accounting.pdf (owner-only).")
@click.option("--no-pdf", is_flag=True, help="HTML only.")
@click.option("--request", "request_id", type=int, help="The patient's accounting request this answers (marked fulfilled).")
@_SITE
@_BY
@click.pass_context
def roi_accounting(ctx, mrn, first, as_of, out, no_pdf, request_id, site):
    """The patient's accounting of disclosures: accountable ones only, repeated ones summarised."""
    first_day = day_option(first, "--from")
    with opened(ctx) as vault:
        by = acting(ctx, vault, ROI_COORDINATOR)
        done = release.accounting(vault, mrn, out, load_site(site), first_day=first_day,
                                  as_of=day_option(as_of, "--as-of"), pdf=not no_pdf, request_id=request_id, by=by)
    click.echo(f"{done.entries} entr{'y' if done.entries == 1 else 'ies'}; {done.suspended} suspended")
    for p in done.paths:
        click.echo(str(p))


@roi.command("suspend")
@click.option("--mrn", required=True, help="The patient's medical record number.")
@click.option("--agency", required=True, help="The agency, as its disclosures name the recipient.")
@click.option("--from", "first", required=True, help="First day of the suspension.")
@click.option("--to", "last", required=True, help="Last day (at most 30 days after the first unless --written).")
@click.option("--written", is_flag=True, help="The agency's request is in writing.")
@_BY
@click.pass_context
def roi_suspend(ctx, mrn, agency, first, last, written):
    """Suspend the accounting of disclosures to an agency (45 CFR 164.528(a)(2))."""
    with opened(ctx) as vault:
        sid = release.suspend(vault, mrn, agency, day_option(first, "--from"),  # type: ignore[arg-type]
                              day_option(last, "--to"), written, acting(ctx, vault, ROI_COORDINATOR))  # type: ignore[arg-type]
    click.echo(f"suspension {sid} recorded")

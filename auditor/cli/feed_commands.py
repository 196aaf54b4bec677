"""auditor feeds add | list | revoke: the system accounts of the web app's FHIR endpoint (an EHR that
sends its AuditEvents, a system that searches a patient's). An admin signed in with `auditor login`
manages them; a new account's bearer token is printed once, on standard output only."""

from __future__ import annotations

import json
from pathlib import Path

import click

from auditor.cli import cli
from auditor.cli.session import opened
from auditor.cli.signed_in import require_role
from auditor.errors import InputError
from auditor.staff import roles as staff_roles
from auditor.staff.feeds import SCOPES, FeedAccounts

_SCOPES_HELP = "; ".join(f"{name}: {what}" for name, what in SCOPES.items())


@cli.group()
def feeds():
    """System accounts of the FHIR endpoint (POST /fhir/AuditEvent): not people, a bearer token each."""


@feeds.command("add")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, default=("feed",), show_default=True,
              help=f"What the account may do (repeat for both). {_SCOPES_HELP}.")
@click.option("--certificate", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The system's client certificate (PEM): over `auditor serve --tls-cert ... --client-ca ...` it "
                   "stands for the bearer token. Only its SHA-256 is kept.")
@click.pass_context
def feeds_add(ctx, name, scopes, certificate):
    """Add the system account NAME and print its bearer token (shown only now; only its hash is kept).

    Its events are logged with NAME as their source, whatever they say about themselves."""
    pem = _pem(certificate) if certificate else None
    with opened(ctx) as vault:
        by = require_role(ctx, vault, staff_roles.ADMIN).account
        made = FeedAccounts(vault).add(name, tuple(scopes), by, certificate=pem)
    with_certificate = f" and client certificate sha256:{made.account.certificate}" if made.account.certificate else ""
    click.echo(f"feed account {made.account.name} added: {', '.join(made.account.scopes)}{with_certificate}; its "
               "bearer token (shown only now: keep it in the sending system's secret store):", err=True)
    click.echo(made.token)


@feeds.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def feeds_list(ctx, fmt):
    """Every feed account: name, scopes, status, who added it and when."""
    with opened(ctx) as vault:
        require_role(ctx, vault, staff_roles.ADMIN)
        listed = FeedAccounts(vault).list()
    rows = [{"name": a.name, "scopes": list(a.scopes), "status": a.status, "created_by": a.created_by,
             "created_at": a.created_at.isoformat(),
             "revoked_at": a.revoked_at.isoformat() if a.revoked_at else None,
             "certificate_sha256": a.certificate} for a in listed]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        certificate = f"\tcertificate sha256:{r['certificate_sha256'][:16]}" if r["certificate_sha256"] else ""
        click.echo(f"{r['name']}\t{','.join(r['scopes'])}\t{r['status']}\tadded by {r['created_by']} "
                   f"{r['created_at']}{certificate}")
    click.echo(f"{len(rows)} feed account(s)", err=True)


@feeds.command("revoke")
@click.argument("name")
@click.pass_context
def feeds_revoke(ctx, name):
    """Revoke the account NAME: its token is refused (401) from the next request on."""
    with opened(ctx) as vault:
        by = require_role(ctx, vault, staff_roles.ADMIN).account
        account = FeedAccounts(vault).revoke(name, by)
    click.echo(f"feed account {account.name} revoked")


def _pem(path: Path) -> bytes:
    """A certificate file's bytes, a mebibyte at most (a certificate is a few kilobytes)."""
    try:
        with open(path, "rb") as f:
            data = f.read((1 << 20) + 1)
    except OSError as exc:
        raise InputError(f"{path.name}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if len(data) > 1 << 20:
        raise InputError(f"{path.name}: over a mebibyte, not a certificate")
    return data

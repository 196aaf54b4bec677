"""auditor audit verify | checkpoint | prove | verify-proof (auditor.review.audit_log)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from auditor.audit.proofs import check_proof
from auditor.cli import cli
from auditor.cli.session import open_vault, opened
from auditor.errors import InputError
from auditor.phi_files import write_private
from auditor.reporting.writers import check_destination
from auditor.review import audit_log
from auditor.vault.integrity import log_problems, row_problems


@cli.group()
def audit():
    """The tamper-evident audit log: verify it, sign checkpoints, prove an event is in it."""


@audit.command("verify")
@click.option("--checkpoint", "extra", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also check against this checkpoint file (e.g. a copy kept elsewhere). Repeatable.")
@click.pass_context
def verify(ctx, extra):
    """Check every event against its seal, the log against every signed checkpoint and archive, and
    every workforce, patient, encounter, care-team, document, suppression and setting row against what
    the log recorded of it.

    Exit 0 when the vault verifies, 1 when it does not (naming the first bad sequence number and each
    row written behind the gateway)."""
    with opened(ctx) as vault:
        checked = audit_log.verify_audit_log(vault, extra)
    click.echo(checked.checked)
    result = checked.result
    latest = result.latest_checkpoint
    click.echo(f"audit log: {result.size} events, root {result.root.hex()}")
    click.echo(f"checkpoints checked: {result.checkpoints_checked}"
               + (f" (latest: {latest.size} events, signed {latest.at})" if latest else ""))
    for warning in result.warnings:
        click.echo(f"warning: {warning}")
    if result.ok:
        click.echo("OK: the audit log verifies, and every recorded row is the row the log recorded")
        return
    log, rows = log_problems(result), row_problems(result)
    if log:
        first = result.first_bad_seq
        click.echo("TAMPERED: " + (f"first bad sequence number {first}" if first is not None
                                   else f"{len(log)} problem(s) with the checkpoints or archives"))
        for p in sorted(log, key=lambda p: (p.seq is None, p.seq or 0)):
            click.echo(f"  {'seq ' + str(p.seq) if p.seq is not None else 'file'}: {p.kind}: {p.message}")
    if rows:
        click.echo(f"ALTERED: {len(rows)} row(s) written behind the audited gateway")
        for p in rows:
            click.echo(f"  {p.kind}: {p.message}")
    sys.exit(1)


@audit.command("checkpoint")
@click.pass_context
def checkpoint(ctx):
    """Sign a checkpoint of the log as it is now."""
    vault = open_vault(ctx)
    cp = audit_log.sign_checkpoint(vault)
    vault.close()
    click.echo(f"signed checkpoint: {cp.size} events, root {cp.root.hex()} -> {vault.checkpoints.path}")


@audit.command("prove")
@click.argument("seq", type=click.IntRange(1))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the proof here (default: stdout).")
@click.pass_context
def prove(ctx, seq, out):
    """Print an inclusion proof of event SEQ against the latest signed checkpoint that covers it."""
    if out:
        check_destination(out, folder=False)
    vault = open_vault(ctx)
    proved = audit_log.inclusion_proof(vault, seq)
    vault.close()
    text = json.dumps(proved.proof, indent=2)
    if out:
        write_private(out, text + "\n")  # the proof names an event of the log: owner-only, like every output
        click.echo(f"proof of event {seq} against checkpoint of size {proved.checkpoint.size} written to {out}")
    else:
        click.echo(text)


@audit.command("verify-proof")
@click.argument("proof_file", type=click.File("r"))
@click.option("--public-key", help="Signing public key (hex); default: the vault home's keyring.")
@click.pass_context
def verify_proof(ctx, proof_file, public_key):
    """Check a proof printed by `auditor audit prove` (use - for stdin). Exit 1 if it does not hold."""
    try:
        proof = json.load(proof_file)
    except ValueError:
        raise InputError(f"{proof_file.name}: not JSON") from None
    if public_key:
        try:
            key = bytes.fromhex(public_key)
        except ValueError:
            raise InputError("--public-key must be hex") from None
    else:
        vault = open_vault(ctx)
        key = vault.keyring.signing_public_key
        vault.close()
    result = check_proof(proof, key)
    click.echo(("OK: " if result.ok else "INVALID: ") + result.message)
    if not result.ok:
        sys.exit(1)

"""auditor audit verify | checkpoint | prove | verify-proof."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from auditor.audit.proofs import build_proof, check_proof
from auditor.audit.verify import verify_log
from auditor.cli import cli
from auditor.cli.session import open_vault
from auditor.errors import InputError


@cli.group()
def audit():
    """The tamper-evident audit log: verify it, sign checkpoints, prove an event is in it."""


@audit.command("verify")
@click.option("--checkpoint", "extra", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also check against this checkpoint file (e.g. a copy kept elsewhere). Repeatable.")
@click.pass_context
def verify(ctx, extra):
    """Check every event against its seal and the log against every signed checkpoint.

    Exit 0 when the log verifies, 1 when it does not (naming the first bad sequence number)."""
    vault = open_vault(ctx)
    result = verify_log(vault.records, vault.keyring, [vault.checkpoints.path, *extra])
    click.echo(vault.files_checked([vault.checkpoints.path, *extra]))
    vault.close()
    latest = result.latest_checkpoint
    click.echo(f"audit log: {result.size} events, root {result.root.hex()}")
    click.echo(f"checkpoints checked: {result.checkpoints_checked}"
               + (f" (latest: {latest.size} events, signed {latest.at})" if latest else ""))
    for warning in result.warnings:
        click.echo(f"warning: {warning}")
    if result.ok:
        click.echo("OK: the audit log verifies")
        return
    click.echo(f"TAMPERED: first bad sequence number {result.first_bad_seq}")
    for p in sorted(result.problems, key=lambda p: (p.seq is None, p.seq or 0)):
        click.echo(f"  {'seq ' + str(p.seq) if p.seq is not None else 'file'}: {p.kind}: {p.message}")
    sys.exit(1)


@audit.command("checkpoint")
@click.pass_context
def checkpoint(ctx):
    """Sign a checkpoint of the log as it is now."""
    vault = open_vault(ctx)
    with vault.records.connect() as conn:
        cp = vault.audit_log.checkpoint_now(conn)
    vault.close()
    click.echo(f"signed checkpoint: {cp.size} events, root {cp.root.hex()} -> {vault.checkpoints.path}")


@audit.command("prove")
@click.argument("seq", type=click.IntRange(1))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the proof here (default: stdout).")
@click.pass_context
def prove(ctx, seq, out):
    """Print an inclusion proof of event SEQ against the latest signed checkpoint that covers it."""
    vault = open_vault(ctx)
    latest = vault.checkpoints.latest()
    if latest is None or latest.size < seq or not latest.verify(vault.keyring.signing_public_key):
        with vault.records.connect() as conn:
            latest = vault.audit_log.checkpoint_now(conn)
    proof = build_proof(vault.records, seq, latest)
    vault.close()
    text = json.dumps(proof, indent=2)
    if out:
        out.write_text(text + "\n")
        click.echo(f"proof of event {seq} against checkpoint of size {latest.size} written to {out}")
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

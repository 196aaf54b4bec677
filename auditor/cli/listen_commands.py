"""auditor listen, auditor forward: IHE ATNA audit messages in and out over TLS syslog (RFC 5425), and in
over UDP syslog (RFC 5426)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from auditor.cli import cli
from auditor.cli.session import home_of, open_vault
from auditor.errors import InputError
from auditor.vault.gateway.context import export_source

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _endpoint(value: str | None, option: str) -> tuple[str, int] | None:
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InputError(f"{option} takes HOST:PORT (e.g. 127.0.0.1:6514)")
    return host.strip("[]"), int(port)


@cli.command("listen")
@click.option("--tls", "tls_at", help="HOST:PORT to receive TLS syslog on (RFC 5425; ATNA's port is 6514).")
@click.option("--cert", type=_FILE, help="The server's certificate chain (PEM), with --tls.")
@click.option("--key", type=_FILE, help="Its private key (PEM), with --tls.")
@click.option("--client-ca", type=_FILE, help="Require a client certificate this CA signed (mutual TLS).")
@click.option("--udp", "udp_at", help="HOST:PORT to receive UDP syslog on (RFC 5426).")
@click.option("--source", default="atna", show_default=True, help="Name of the systems that send.")
@click.option("--batch", default=5000, show_default=True, type=click.IntRange(1, 100_000),
              help="Messages a transaction ingests at most.")
@click.pass_context
def listen_command(ctx, tls_at, cert, key, client_ca, udp_at, source, batch):
    """Receive IHE ATNA audit messages (DICOM PS3.15 AuditMessage XML, MSGID IHE+RFC-3881) and load them
    into the audit log as `auditor ingest --format atna` would, until stopped (SIGINT or SIGTERM).

    Each message is on disk, in the home's spool/SOURCE, before it is parsed; the spool is ingested in
    batches. A listener stopped or killed at any point loses nothing it had received, and the next one
    ingests the spool first, without duplicates. Listen on loopback or behind a firewall: anyone who
    can reach a UDP port can send to it."""
    from auditor.ingest.listener import AtnaListener, tls_context
    from auditor.ingest.spool import Spool

    tls, udp = _endpoint(tls_at, "--tls"), _endpoint(udp_at, "--udp")
    if tls is None and udp is None:
        raise InputError("give --tls HOST:PORT (with --cert and --key), --udp HOST:PORT, or both")
    if tls is not None and (cert is None or key is None):
        raise InputError("--tls needs --cert and --key")
    if len(source) > 64 or not source.strip() or "/" in source or source.strip() in (".", ".."):
        raise InputError("--source must be a name of 1 to 64 characters without /")
    export_source(source)
    try:
        context = tls_context(cert, key, client_ca) if tls is not None else None
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise InputError(f"the TLS certificate or key cannot be used: {type(exc).__name__}") from None
    vault = open_vault(ctx)
    try:
        spool = Spool(home_of(ctx) / "spool" / source.strip(), vault.keyring.log_mac_key)
    except BaseException:  # a damaged spool or a refused cursor: the vault is closed all the same
        vault.close()
        raise
    try:
        listener = AtnaListener(vault.gateway, spool, source.strip(), vault.timezone,
                                tls=(*tls, context) if tls is not None else None, udp=udp, batch=batch)

        def ready(counts) -> None:
            for endpoint in counts.endpoints:
                click.echo(f"listening on {endpoint}")

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await listener.run(stop, ready)

        try:
            asyncio.run(main())
        except OSError as exc:  # the address is taken, or not this machine's
            raise InputError(f"cannot listen: {exc.strerror or type(exc).__name__}") from None
    finally:
        spool.close()
        vault.close()
    counts, summary = listener.counts, listener.summary
    loaded = sum(c.loaded for c in summary.files.values())
    present = sum(c.already_present for c in summary.files.values())
    click.echo(f"received {counts.received} messages on {counts.connections} connection(s); {loaded} loaded, "
               f"{present} already present, {len(summary.rejected)} rejected "
               f"({summary.newly_quarantined} newly quarantined; list them with: auditor ingest --rejected)")
    if counts.closed_streams or counts.cut_short:
        click.echo(f"{counts.closed_streams} TLS stream(s) closed for not being octet-counted frames; "
                   f"{counts.cut_short} frame(s) cut short by their sender", err=True)


@cli.command("forward")
@click.option("--to", "to", required=True, help="HOST:PORT of the receiver's TLS syslog (RFC 5425).")
@click.option("--tls", "use_tls", is_flag=True, required=True, help="Send over TLS (the only way this sends).")
@click.option("--ca", type=_FILE, help="The CA that signed the receiver's certificate (default: the system's).")
@click.option("--cert", type=_FILE, help="This side's client certificate (PEM), when the receiver requires one.")
@click.option("--key", type=_FILE, help="Its private key (PEM).")
@click.pass_context
def forward_command(ctx, to, use_tls, ca, cert, key):
    """Send the audit log's events, from where the last run to this receiver stopped, as IHE ATNA
    audit messages (MSGID IHE+RFC-3881) over TLS syslog, to a SIEM or another auditor's listen.

    The messages name patients by MRN and carry break-the-glass reasons, each read in your name: a
    privacy officer signed in runs it."""
    from auditor.cli.signed_in import require_role
    from auditor.review.forward import client_context, forward_log
    from auditor.staff.roles import OFFICE_REVIEW, PRIVACY_OFFICER

    host, port = _endpoint(to, "--to")
    if (cert is None) != (key is None):
        raise InputError("--cert and --key go together")
    try:
        context = client_context(ca, cert, key)
    except (OSError, ValueError) as exc:
        raise InputError(f"the TLS certificate or key cannot be used: {type(exc).__name__}") from None
    vault = open_vault(ctx)
    try:
        reader = require_role(ctx, vault, PRIVACY_OFFICER).access_context(OFFICE_REVIEW)
        done = forward_log(vault, home_of(ctx), host, port, context, reader)
    finally:
        vault.close()
    span = f" (events {done.first_seq} to {done.last_seq})" if done.sent else ""
    click.echo(f"{done.sent} audit events sent to {done.destination}{span}")

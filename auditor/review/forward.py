"""Forwarding the audit log as a use case: `auditor forward` sends the vault's events, in sequence
order, as IHE ATNA audit messages over TLS syslog (RFC 5425 framing) to a SIEM or to another
auditor's `auditor listen`, from where the last run to that destination stopped.

The destination's certificate is verified (against `--ca`, or the system's authorities) and, with a
client certificate, the forwarder proves itself. MRNs are read as svc:report, break-the-glass reasons
in the forwarding person's name. The position sent is kept in the home's forward/DEST/cursor after
each batch is written to the connection: syslog has no acknowledgement, so a run cut short sends its
last batch again, and a receiver that keys events by their id (an auditor does: every message names
its event) adds nothing twice. The cursor is sealed for its receiver (auditor.crypto.cursor_seal): one
edited, copied from another receiver's folder or beyond the log's end is refused (it would skip
events never sent); a deleted one sends the whole log again, which the run's first sequence number
shows."""

from __future__ import annotations

import re
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from auditor.audit.atna_export import audit_message
from auditor.audit.blocks import event_count, stored_events
from auditor.audit.events import CANONICAL_COLUMNS
from auditor.crypto.cursor_seal import CursorSeal, cursor_key
from auditor.database import read_snapshot
from auditor.errors import InputError, TamperDetected
from auditor.home import Vault
from auditor.ingest.syslog import atna_syslog, frame
from auditor.vault.gateway import AccessContext
from auditor.vault.gateway.directory import ReportDirectory

BATCH = 1000


@dataclass
class Forwarded:
    destination: str
    sent: int = 0
    first_seq: int | None = None
    last_seq: int | None = None


def client_context(ca: Path | None = None, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context


def _state(vault: Vault, home: Path, host: str, port: int) -> CursorSeal:
    folder = home / "forward" / re.sub(r"[^A-Za-z0-9.-]", "_", f"{host}_{port}")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return CursorSeal(folder / "cursor", cursor_key(vault.keyring.log_mac_key, "forward"), f"forward:{host}:{port}",
                      "delete it to send the whole log to this receiver again")


def forward_log(vault: Vault, home: Path, host: str, port: int, context: ssl.SSLContext, reader: AccessContext,
                batch: int = BATCH) -> Forwarded:
    """Every event after the destination's cursor, sent in batches."""
    state = _state(vault, home, host, port)
    done = Forwarded(f"{host}:{port}")
    directory = ReportDirectory(vault.gateway, AccessContext.service("report"))
    mrns: dict[int, str] = {}
    with vault.records.connect() as conn:
        read_snapshot(conn)
        top = event_count(conn)[1]
        start = state.read(lambda seq: b"" if seq <= top else None) or 0  # refused before anything is sent
        try:
            raw = socket.create_connection((host, port), timeout=30)
        except OSError as exc:
            raise InputError(f"cannot reach {host}:{port}: {exc.strerror or type(exc).__name__}") from None
        try:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                _send_after(vault, conn, tls, start, batch, directory, mrns, reader, state, done)
        except ssl.SSLError as exc:
            raise InputError(f"TLS with {host}:{port} failed: {exc.reason or type(exc).__name__}") from None
        finally:
            raw.close()
    return done


def _send_after(vault, conn, tls, start: int, batch: int, directory, mrns, reader, state: CursorSeal,
                done: Forwarded) -> None:
    """Every event after `start` to `tls`, a batch at a time, the cursor sealed after each."""
    pending: list[dict] = []
    for stored in stored_events(conn, lo=start):
        if stored.row is None:
            raise TamperDetected(f"audit event {stored.seq} cannot be read; run: auditor audit verify")
        pending.append(dict(zip(CANONICAL_COLUMNS, stored.row)))
        if len(pending) >= batch:
            _send(vault, tls, pending, directory, mrns, reader, state, done)
            pending = []
    if pending:
        _send(vault, tls, pending, directory, mrns, reader, state, done)


def _send(vault, tls, events: list[dict], directory, mrns, reader, state: CursorSeal, done: Forwarded) -> None:
    wanted = sorted({e["patient_id"] for e in events if e["patient_id"] is not None} - set(mrns))
    if wanted:
        mrns.update(directory.mrns(wanted))
    glass = [e["seq"] for e in events if e["break_glass"] and e["reason"] is not None]
    reasons = vault.gateway.read_access_reasons(reader, glass) if glass else {}
    tls.sendall(b"".join(frame(atna_syslog(audit_message(e, mrns.get(e["patient_id"]), reasons.get(e["seq"]))))
                         for e in events))
    state.write(events[-1]["seq"])  # the cursor, sealed, replaced whole
    done.sent += len(events)
    done.first_seq = done.first_seq if done.first_seq is not None else events[0]["seq"]
    done.last_seq = events[-1]["seq"]

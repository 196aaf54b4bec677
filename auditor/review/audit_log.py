"""The tamper-evident audit log as use cases: verify it (with copies of its checkpoints kept
elsewhere), sign a checkpoint, prove that an event is in it; and, for a report's cover, verify it in
another process while the rules run here (the check grows with the log, not the month)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from auditor.audit.checkpoints import Checkpoint, CheckpointFile, key_fingerprint
from auditor.audit.proofs import build_proof
from auditor.audit.verify import Verification
from auditor.errors import InputError
from auditor.home import Vault
from auditor.review.glance import VerificationKept, last_verification, record_verification
from auditor.vault.integrity import verify_vault


@dataclass(frozen=True)
class _LogKeys:
    """What verify_log needs of the keyring, to send to another process (never the keyring file)."""

    signing_public_key: bytes
    log_mac_key: bytes


def _verify_elsewhere(url: str, keys: _LogKeys, checkpoint_files: list) -> Verification:
    from auditor import database

    engine = database.connect(url)
    try:
        return verify_vault(engine, keys, checkpoint_files)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def check_log(vault: Vault) -> Verification:
    """The log and the rows it vouches for, verified in this process."""
    return verify_vault(vault.records, vault.keyring, [vault.checkpoints.path])


def start_log_check(vault: Vault) -> Future:
    """A Future of the vault's Verification, computed in a fresh (spawned) process, so its own worker
    processes are forked from a single-threaded parent. A database only this process can see (SQLite
    in memory) is verified here, at once."""
    if vault.records.url.database in (None, "", ":memory:"):
        done: Future = Future()
        done.set_result(check_log(vault))
        return done
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    keys = _LogKeys(vault.keyring.signing_public_key, vault.keyring.log_mac_key)
    future = pool.submit(_verify_elsewhere, vault.records.url.render_as_string(hide_password=False), keys,
                         [vault.checkpoints.path])
    pool.shutdown(wait=False)
    return future


@dataclass(frozen=True)
class LogVerification:
    checked: str  # which databases and checkpoint files were read, in one line
    result: Verification


def _same_vault(path: Path, public_key: bytes) -> None:
    """A copy of the checkpoints must be this vault's: one of another vault is a mistake, not tampering."""
    checkpoints, problems = CheckpointFile(path).read()
    ours = key_fingerprint(public_key)
    keys = sorted({cp.key for cp in checkpoints})
    if not checkpoints and problems:
        raise InputError(f"{path}: not a checkpoint file (no line of it is a checkpoint)")
    if checkpoints and ours not in keys:
        raise InputError(f"{path}: its checkpoints were signed by another vault's key ({', '.join(keys)}), not this "
                         f"vault's ({ours}): it is not a copy of this vault's checkpoints")


def verify_audit_log(vault: Vault, copies: list[Path] | tuple[Path, ...] = ()) -> LogVerification:
    """Every event against its seal, the log against every signed checkpoint (the vault's and `copies`
    kept elsewhere) and archive, and every row the log vouches for against what it recorded."""
    for copy in copies:
        _same_vault(copy, vault.keyring.signing_public_key)
    files = [vault.checkpoints.path, *copies]
    return LogVerification(vault.files_checked(files), verify_vault(vault.records, vault.keyring, files))


def verify_and_keep(vault: Vault) -> LogVerification:
    """verify_audit_log, its outcome then kept (auditor.review.glance) for the office's pages to show
    until the next: a verification asked for in the web app. Keeping it appends one event, so the
    outcome kept is of the log as it was just before."""
    done = verify_audit_log(vault)
    record_verification(vault, done.result)
    return done


def sign_checkpoint(vault: Vault) -> Checkpoint:
    """A signed checkpoint of the log as it is now, appended to the vault's checkpoints file."""
    with vault.records.connect() as conn:
        return vault.audit_log.checkpoint_now(conn)


@dataclass(frozen=True)
class InclusionProof:
    seq: int
    checkpoint: Checkpoint  # the signed checkpoint it is proved against
    proof: dict  # as auditor.audit.proofs.check_proof reads it (JSON)


def inclusion_proof(vault: Vault, seq: int) -> InclusionProof:
    """A proof that event `seq` is in the log, against the latest signed checkpoint that covers it (one
    is signed now when none does)."""
    latest = vault.checkpoints.latest_signed(vault.keyring.signing_public_key)
    if latest is None or latest.size < seq:
        latest = sign_checkpoint(vault)
    return InclusionProof(seq, latest, build_proof(vault.records, seq, latest))


@dataclass(frozen=True)
class LogState:
    """The log as the audit log page shows it, read without verifying: its size, its signed
    checkpoints (newest first) and the last verification kept."""

    size: int
    checkpoints: list[Checkpoint]
    checkpoint_problems: list[str]  # lines of the checkpoints file that are not checkpoints
    verification: VerificationKept | None


def log_state(vault: Vault, newest: int = 20) -> LogState:
    checkpoints, problems = vault.checkpoints.read()
    with vault.records.connect() as conn:
        size = vault.audit_log.size(conn) or 0
    shown = sorted(checkpoints, key=lambda c: (c.size, c.at), reverse=True)[:newest]
    return LogState(size, shown, problems, last_verification(vault))

"""Verifying the whole audit log for a report's cover, in another process while the rules run here:
the check grows with the log, not the month, and the cover must state its result."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from auditor.audit.verify import Verification
from auditor.home import Vault
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

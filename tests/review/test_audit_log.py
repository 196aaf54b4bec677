"""The audit log as use cases: verified with a copy of its checkpoints, a checkpoint signed, an event
proved in it; another vault's checkpoints are refused as a mistake, not reported as tampering."""

from __future__ import annotations

import json
import shutil

import pytest

from auditor.audit.proofs import check_proof
from auditor.errors import InputError
from auditor.home import create_home
from auditor.review.audit_log import inclusion_proof, sign_checkpoint, verify_audit_log
from tests.conftest import FAST_SCRYPT


def test_verify_sign_and_prove(population, tmp_path):
    vault = population
    copy = tmp_path / "copy.log"
    shutil.copy(vault.checkpoints.path, copy)
    checked = verify_audit_log(vault, [copy])
    assert checked.result.ok and str(copy.resolve()) in checked.checked
    signed = sign_checkpoint(vault)
    latest = vault.checkpoints.latest()
    assert signed.size == checked.result.size and (latest.size, latest.root) == (signed.size, signed.root)
    proved = inclusion_proof(vault, 3)
    assert (proved.checkpoint.size, proved.checkpoint.root) == (signed.size, signed.root)  # no new one needed
    assert check_proof(proved.proof, vault.keyring.signing_public_key).ok


def test_another_vaults_checkpoints_are_refused(sqlite_vault, tmp_path, clock):
    other = create_home(tmp_path / "other", clock=clock, scrypt_n=FAST_SCRYPT)
    other.close()
    with pytest.raises(InputError, match="signed by another vault's key"):
        verify_audit_log(sqlite_vault, [other.checkpoints.path])


def test_an_event_is_proved_against_a_signed_checkpoint_never_a_line_added_to_the_file(population):
    """A line of a larger size, its signature not this keyring's, appended to the checkpoints file: the
    proof is made against the latest genuine checkpoint, and it checks."""
    vault = population
    genuine = sign_checkpoint(vault)
    line = json.loads(genuine.to_line()) | {"size": genuine.size + 1_000}
    with vault.checkpoints.path.open("a") as f:
        f.write(json.dumps(line) + "\n")
    proved = inclusion_proof(vault, 3)
    assert (proved.checkpoint.size, proved.checkpoint.root) == (genuine.size, genuine.root)
    assert check_proof(proved.proof, vault.keyring.signing_public_key).ok

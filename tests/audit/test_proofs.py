"""Inclusion proofs: built from the log against a signed checkpoint, checked with only the public key."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import update

from auditor.audit.log import EVENTS
from auditor.audit.proofs import build_proof, check_proof
from auditor.crypto.keyring import Keyring
from auditor.errors import InputError, NotFound, TamperDetected

from tests.audit.helpers import reads, seqs

SEQS = [1, 2, 11, 16, 32, 33, 40, 41]
# Building a proof reads the log (both backends); checking one needs no database (SQLite suffices).
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
def proved(population):
    """41 events (an odd size, so the rightmost path is ragged) and a checkpoint of all of them."""
    vault = population
    reads(vault, 41 - len(seqs(vault)))
    with vault.records.connect() as conn:
        checkpoint = vault.audit_log.checkpoint_now(conn)
    assert checkpoint.size == 41
    return vault, checkpoint


def test_proofs_round_trip(proved):
    vault, checkpoint = proved
    public_key = vault.keyring.signing_public_key
    for seq in SEQS:
        proof = build_proof(vault.records, seq, checkpoint)
        proof = json.loads(json.dumps(proof))  # what `auditor audit prove` prints and a verifier reads
        assert proof["seq"] == seq and json.loads(proof["entry"])[1] == seq
        result = check_proof(proof, public_key)
        assert result.ok, (seq, result.message)
        assert f"event {seq} is included in the log of 41 events" in result.message


@sqlite_only
def test_proof_against_an_earlier_checkpoint(proved):
    vault, _ = proved
    earlier = min((cp for cp in vault.checkpoints.read()[0]), key=lambda cp: cp.size)
    assert earlier.size < 41
    for seq in (1, earlier.size):
        assert check_proof(build_proof(vault.records, seq, earlier), vault.keyring.signing_public_key).ok
    with pytest.raises(NotFound):
        build_proof(vault.records, earlier.size + 1, earlier)
    with pytest.raises(NotFound):
        build_proof(vault.records, 0, earlier)


def _flip_hex(h: str, at: int = 0) -> str:
    return h[:at] + format(int(h[at], 16) ^ 1, "x") + h[at + 1:]


@sqlite_only
def test_altered_entry_fails(proved):
    vault, checkpoint = proved
    public_key = vault.keyring.signing_public_key
    proof = build_proof(vault.records, 32, checkpoint)
    entry = json.loads(proof["entry"])
    assert "dr.house" in entry
    for change in (lambda e: e.__setitem__(e.index("dr.house"), "dr.alibi"),
                   lambda e: e.__setitem__(2, e[2] + 1),  # the time
                   lambda e: e.__setitem__(-1, "elsewhere")):  # the workstation
        altered = copy.deepcopy(proof)
        e = json.loads(proof["entry"])
        change(e)
        altered["entry"] = json.dumps(e, separators=(",", ":"), ensure_ascii=False)
        result = check_proof(altered, public_key)
        assert not result.ok and "does not lead" in result.message
    # whitespace is not the canonical form either
    altered = dict(proof, entry=json.dumps(entry))
    assert not check_proof(altered, public_key).ok


@sqlite_only
def test_entry_of_another_event_fails(proved):
    vault, checkpoint = proved
    public_key = vault.keyring.signing_public_key
    p16, p17 = (build_proof(vault.records, s, checkpoint) for s in (16, 17))
    assert not check_proof(dict(p16, entry=p17["entry"]), public_key).ok  # "not event 16"
    assert not check_proof(dict(p16, seq=17, entry=p17["entry"]), public_key).ok  # 17's entry, 16's path
    assert not check_proof(dict(p16, seq=17), public_key).ok


@sqlite_only
def test_altered_path_fails(proved):
    vault, checkpoint = proved
    public_key = vault.keyring.signing_public_key
    for seq in SEQS:
        proof = build_proof(vault.records, seq, checkpoint)
        path = proof["path"]
        assert path
        for i in range(len(path)):
            altered = dict(proof, path=path[:i] + [_flip_hex(path[i], i)] + path[i + 1:])
            assert not check_proof(altered, public_key).ok, (seq, i)
        assert not check_proof(dict(proof, path=path[:-1]), public_key).ok
        assert not check_proof(dict(proof, path=path + [path[0]]), public_key).ok
        if len(path) > 1:
            assert not check_proof(dict(proof, path=list(reversed(path))), public_key).ok


@sqlite_only
def test_altered_checkpoint_fails(proved):
    vault, checkpoint = proved
    public_key = vault.keyring.signing_public_key
    proof = build_proof(vault.records, 33, checkpoint)
    cp = proof["checkpoint"]
    for change in ({"root": _flip_hex(cp["root"], 5)}, {"size": 42}, {"size": 40}, {"at": "2001-01-01T00:00:00+00:00"},
                   {"sig": cp["sig"][:10] + ("A" if cp["sig"][10] != "A" else "B") + cp["sig"][11:]}):
        result = check_proof(dict(proof, checkpoint=dict(cp, **change)), public_key)
        assert not result.ok, change
        assert "signature" in result.message


@sqlite_only
def test_proof_checked_with_another_keyring_fails(proved, tmp_path, clock):
    vault, checkpoint = proved
    other = Keyring.create(tmp_path / "other.json", None, clock)
    proof = build_proof(vault.records, 11, checkpoint)
    result = check_proof(proof, other.signing_public_key)
    assert not result.ok and "public key" in result.message
    assert check_proof(proof, vault.keyring.signing_public_key).ok


@sqlite_only
def test_malformed_proof_is_an_input_error(proved):
    vault, checkpoint = proved
    proof = build_proof(vault.records, 2, checkpoint)
    for bad in ({}, [], dict(proof, format="other"), dict(proof, path=["zz"]), dict(proof, checkpoint={"format": "x"}),
                dict(proof, seq="x"), dict(proof, entry=5), dict(proof, entry="garbage"), dict(proof, entry="[]"),
                dict(proof, entry='["auditor-event/1"]'), dict(proof, entry="{}")):
        with pytest.raises(InputError):
            check_proof(bad, vault.keyring.signing_public_key)


def test_no_proof_from_a_tampered_log(proved):
    vault, checkpoint = proved
    with vault.records.begin() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.seq == 30).values(user_id="mallory"))
    with pytest.raises(TamperDetected):
        build_proof(vault.records, 5, checkpoint)

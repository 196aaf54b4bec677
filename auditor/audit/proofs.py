"""Inclusion proofs: evidence that event SEQ is in the log a signed checkpoint vouches for, checkable
by anyone with the signing public key and without the database."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Engine, select

from auditor.audit import merkle
from auditor.audit.checkpoints import Checkpoint
from auditor.audit.blocks import stored_events
from auditor.audit.events import canonical_bytes
from auditor.audit.archive_records import LEAVES
from auditor.audit.schema import ArchivedLeaf
from auditor.errors import InputError, NotFound, TamperDetected

FORMAT = "auditor-inclusion-proof/1"


def build_proof(engine: Engine, seq: int, checkpoint: Checkpoint) -> dict:
    """The proof that event `seq` is leaf seq-1 of the tree `checkpoint` signed."""
    if not 1 <= seq <= checkpoint.size:
        raise NotFound(f"event {seq} is not covered by a checkpoint of size {checkpoint.size}")
    leaves, entry = [], None
    with engine.connect() as conn:
        archived = ArchivedLeaf.__table__  # events archived to a file keep their leaf hash here
        leaves += [bytes(h) for (h,) in conn.execute(select(archived.c.leaf_hash).where(  # streamed on PostgreSQL
            archived.c.seq <= checkpoint.size).order_by(archived.c.seq).execution_options(yield_per=LEAVES))]
        if seq <= len(leaves):
            raise NotFound(f"event {seq} is archived: prove it from its archive file (auditor audit verify-archive)")
        for event in stored_events(conn, hi=checkpoint.size):  # rows and blocks, in sequence order
            if event.row is None:
                break  # a block that cannot be read: the tree below cannot match
            data = canonical_bytes(event.row)
            leaves.append(merkle.leaf_hash(data))
            if event.seq == seq:
                entry = data
    if len(leaves) != checkpoint.size or entry is None or merkle.tree_hash(leaves) != checkpoint.root:
        raise TamperDetected("the log does not match the checkpoint it should be proved against; run: auditor audit verify")
    return {
        "format": FORMAT,
        "seq": seq,
        "entry": entry.decode("utf-8"),
        "leaf_hash": leaves[seq - 1].hex(),
        "path": [h.hex() for h in merkle.inclusion_path(leaves, seq - 1)],
        "checkpoint": json.loads(checkpoint.to_line()),
    }


@dataclass(frozen=True)
class ProofCheck:
    ok: bool
    message: str


def check_proof(proof: dict, public_key: bytes) -> ProofCheck:
    try:
        if proof["format"] != FORMAT:
            raise ValueError
        seq = int(proof["seq"])
        entry = proof["entry"].encode("utf-8")
        entry_seq = json.loads(entry)[1]
        path = [bytes.fromhex(h) for h in proof["path"]]
        checkpoint = Checkpoint.parse(json.dumps(proof["checkpoint"]), "proof")
    except (KeyError, IndexError, ValueError, TypeError, AttributeError, InputError):
        raise InputError("not an inclusion proof (expected the JSON that `auditor audit prove` prints)") from None
    if entry_seq != seq:
        return ProofCheck(False, f"the entry in the proof is not event {seq}")
    if not checkpoint.verify(public_key):
        return ProofCheck(False, "the checkpoint's signature does not verify with this public key")
    root = merkle.root_from_inclusion(merkle.leaf_hash(entry), seq - 1, checkpoint.size, path)
    if root != checkpoint.root:
        return ProofCheck(False, f"the path does not lead from event {seq} to the signed root")
    return ProofCheck(True, f"event {seq} is included in the log of {checkpoint.size} events signed at {checkpoint.at}")

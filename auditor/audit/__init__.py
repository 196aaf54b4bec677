"""The tamper-evident audit log: events, the Merkle tree, signed checkpoints and verification."""

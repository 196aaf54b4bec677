"""What a sealed column holds: AES-GCM ciphertext from Envelope.seal, never plaintext."""

from sqlalchemy import LargeBinary

Sealed = LargeBinary  # ciphertext from Envelope.seal

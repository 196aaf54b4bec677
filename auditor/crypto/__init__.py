"""Keys and ciphers: the keyring (KEKs, rotation, signing key), envelope encryption of fields under
per-subject data keys, and keyed blind indexes. Only `_aead` touches the cryptography hazmat layer."""

"""The vault: the records schema (PHI as ciphertext) and the access gateway, the only door to PHI."""

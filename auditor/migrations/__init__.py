"""Alembic migrations: `records/` for the records database, `keystore/` for the key store."""

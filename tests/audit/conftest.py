"""Audit-log fixtures: the shared `vault` (SQLite and PostgreSQL), here with a checkpoint every 10 events."""

from __future__ import annotations

import pytest

from auditor.home import create_home
from tests.conftest import FAST_SCRYPT

CHECKPOINT_EVERY = 10


@pytest.fixture
def vault(request, backend, tmp_path, clock):
    """Overrides tests/conftest.py's `vault` (so `population` builds on it): the same fresh home on each
    backend, signing a checkpoint every CHECKPOINT_EVERY events."""
    kwargs = {}
    if backend == "postgres":
        make = request.getfixturevalue("fresh_postgres_db")
        kwargs = {"database_url": make(), "keystore_url": make()}
    v = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT, checkpoint_every=CHECKPOINT_EVERY, **kwargs)
    yield v
    v.close()

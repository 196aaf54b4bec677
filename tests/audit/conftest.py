"""Audit-log fixtures: the shared `vault` (SQLite and PostgreSQL), here with a checkpoint every 10 events."""

from __future__ import annotations

import pytest

from tests.conftest import fresh_vault

CHECKPOINT_EVERY = 10


@pytest.fixture
def vault(request, backend, tmp_path, clock):
    """Overrides tests/conftest.py's `vault` (so `population` builds on it): the same fresh home on each
    backend, signing a checkpoint every CHECKPOINT_EVERY events."""
    v = fresh_vault(request, backend, tmp_path / "home", clock, checkpoint_every=CHECKPOINT_EVERY)
    yield v
    v.close()

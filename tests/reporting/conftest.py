from __future__ import annotations

import pytest

from auditor.home import create_home
from tests.conftest import FAST_SCRYPT
from tests.reporting.report_data import hospital_month


@pytest.fixture
def run(auditor):
    """The shared `auditor` fixture (tests/conftest.py), under the name these modules call it by, signed
    in as the privacy officer (the reports name patients) unless `user` says another account."""

    def call(*args, user: str | None = "officer", **options):
        return auditor(*args, user=user, **options)

    return call


@pytest.fixture
def month_home(tmp_path, clock):
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    ids = hospital_month(vault)
    vault.close()
    return ids

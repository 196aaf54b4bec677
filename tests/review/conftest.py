from __future__ import annotations

import pytest

from auditor.home import create_home
from auditor.policy.rules import load_policy
from tests.conftest import FAST_SCRYPT
from tests.reporting.report_data import hospital_month


@pytest.fixture(scope="session")
def policy():
    return load_policy()


@pytest.fixture
def month_vault(tmp_path, clock):
    """An open vault holding tests/reporting's month of November 2026 (America/New_York)."""
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    hospital_month(vault)
    yield vault
    vault.close()

"""A small simulated hospital, written once per session, and a vault it is ingested into."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from auditor.home import create_home
from auditor.ingest.ehr_import import ingest_directory
from auditor.simulation.writer import write_hospital
from auditor.vault.settings import set_organisation_timezone
from tests.conftest import FAST_SCRYPT

NEW_YORK = ZoneInfo("America/New_York")
SMALL = {"events": 20_000, "workforce": 150, "patients": 2_000}


@pytest.fixture(scope="session")
def small_hospital(tmp_path_factory):
    return write_hospital(tmp_path_factory.mktemp("sim") / "hospital", 7, **SMALL)


@pytest.fixture(scope="session")
def ingested(small_hospital, tmp_path_factory):
    """(vault, ingest summary) of the small hospital, loaded through auditor ingest's library code."""
    vault = create_home(tmp_path_factory.mktemp("vault") / "home", scrypt_n=FAST_SCRYPT)
    set_organisation_timezone(vault.gateway, NEW_YORK)
    summary = ingest_directory(vault.gateway, small_hospital.folder, NEW_YORK)
    yield vault, summary
    vault.close()


def read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)

from __future__ import annotations

import pytest

from auditor.cli import main
from auditor.home import create_home
from tests.conftest import FAST_SCRYPT
from tests.reporting.report_data import hospital_month


@pytest.fixture
def run(capsys, monkeypatch, tmp_path):
    """The auditor command line, in-process, on the home tmp_path/home."""
    monkeypatch.setenv("AUDITOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AUDITOR_PASSPHRASE", raising=False)

    def call(*args):
        capsys.readouterr()
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


@pytest.fixture
def month_home(tmp_path, clock):
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    ids = hospital_month(vault)
    vault.close()
    return ids

"""An attacker's starting point: a vault that holds a month of a simulated hospital's EHR activity,
ingested and audited through the CLI, whose records database the attacker may then edit directly (as
anyone with write access to records.db can, with the sqlite3 shell or any SQLite library)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from auditor.cli import main
from tests.signed_in import sign_in

MONTH_FROM, MONTH_TO = "2026-11-01", "2026-11-30"


def _run(*args: str) -> None:
    try:
        main(list(args))
    except SystemExit as exc:
        assert exc.code == 0, (args, exc.code)


@pytest.fixture(scope="session")
def hospital_home(tmp_path_factory) -> Path:
    """A vault made once per test session: `auditor init`, a simulated month (4,000 accesses) ingested,
    then `auditor findings` over November (signed in as an investigator), all through the CLI. Tests
    copy it (`attacked_home`)."""
    root = tmp_path_factory.mktemp("hospital")
    home = root / "home"
    _run("simulate", "--out", str(root / "export"), "--seed", "7", "--events", "4000")
    _run("--home", str(home), "init")
    _run("--home", str(home), "ingest", str(root / "export"), "--tz", "America/New_York")
    with pytest.MonkeyPatch.context() as env:  # the rules' run, signed in; its token outside the home
        (root / "run").mkdir(mode=0o700)
        env.setenv("XDG_RUNTIME_DIR", str(root / "run"))
        sign_in(home, "analyst")
        _run("--home", str(home), "findings", "--from", MONTH_FROM, "--to", MONTH_TO, "--format", "json",
             "--out", str(root / "findings.json"))
    return home


@pytest.fixture
def attacked_home(hospital_home, tmp_path, monkeypatch) -> Path:
    """A private copy of the hospital's vault home, which AUDITOR_HOME names for the test."""
    home = tmp_path / "home"
    shutil.copytree(hospital_home, home)
    settings = json.loads((home / "home.json").read_text())
    for key in ("database_url", "keystore_url"):  # a copy whose settings still name the original's files
        if settings[key].startswith("sqlite:///") and str(hospital_home) in settings[key]:
            settings[key] = settings[key].replace(str(hospital_home), str(home))
    (home / "home.json").write_text(json.dumps(settings))
    monkeypatch.setenv("AUDITOR_HOME", str(home))
    monkeypatch.delenv("AUDITOR_PASSPHRASE", raising=False)
    return home


@contextmanager
def records_db(home: Path):
    """The attacker's connection to records.db: plain SQLite, no auditor code, committed on exit."""
    with closing(sqlite3.connect(home / "records.db")) as conn:
        yield conn
        conn.commit()

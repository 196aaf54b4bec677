"""A vault home with patients whose charts hold every sensitivity, and the CLI run in-process on a
fixed day (TODAY unless a test names another), so no test depends on the day it runs."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import yaml

from auditor.cli import main
from auditor.clock import FixedClock
from auditor.home import create_home
from auditor.vault.gateway import AccessContext, DocumentRecord, PatientDemographics
from tests.conftest import FAST_SCRYPT
from tests.signed_in import sign_in

FAR = "2099-12-31"
TODAY = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)  # after every request's receipt in these tests


def populate(vault) -> None:
    svc = AccessContext.service("import")
    g = vault.gateway
    g.register_patients(svc, [
        PatientDemographics("P-1", "Zoë", "Müller", "1970-03-04", "F", "12 Main Street", "Boston", "MA", "02111"),
        PatientDemographics("P-2", "Ann", "Lee", "1985-07-08", "F", "9 Elm Road", "Boston", "MA", "02112"),
    ])
    at = lambda d: datetime.fromisoformat(d).replace(tzinfo=timezone.utc)  # noqa: E731
    g.add_documents(svc, [
        DocumentRecord("P-1", "condition", at("2026-03-01T10:00"), "Hypertension", "BP 150/95"),
        DocumentRecord("P-1", "lab", at("2026-05-01T10:00"), "Lipid panel", "LDL 130"),
        DocumentRecord("P-1", "condition", at("2025-01-01T10:00"), "Old fracture", "healed"),
        DocumentRecord("P-1", "note", at("2026-03-02T10:00"), "Therapy session", "private words",
                       sensitivity="psychotherapy_note"),
        DocumentRecord("P-1", "note", at("2026-03-03T10:00"), "SUD program", "methadone dose",
                       sensitivity="substance_use"),
        DocumentRecord("P-1", "lab", at("2026-03-04T10:00"), "HIV viral load", "undetectable", sensitivity="hiv"),
        DocumentRecord("P-2", "condition", at("2026-04-01T10:00"), "Asthma", "inhaler"),
    ])


@pytest.fixture
def home(tmp_path, clock):
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    populate(vault)
    yield vault
    vault.close()


@pytest.fixture
def run(capsys, monkeypatch, tmp_path, home):
    """`auditor ARGS` on the day `on`, signed in as `user` (the coordinator; None: as the token file is)."""
    (tmp_path / "run").mkdir(mode=0o700)
    monkeypatch.setenv("AUDITOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("AUDITOR_PASSPHRASE", raising=False)

    def call(*args, on: datetime = TODAY, user: str | None = "coordinator"):
        if user is not None:
            sign_in(None, user, on)
        capsys.readouterr()
        code = 0
        try:
            main([str(a) for a in args], clock=FixedClock(on))
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def authorization(**overrides) -> dict:
    """A complete 164.508(c) authorization form (each test removes what it needs missing)."""
    form = {"kind": "authorization", "covers": ["general"], "description": "labs and conditions of 2026",
            "disclosing_party": "General Hospital HIM", "recipient": "Acme Life Insurance, 1 Policy Way",
            "purpose": "at the request of the individual", "expires_on": FAR, "signature": "Zoë Müller",
            "signed_on": "2026-10-01", "statement_revocation": "You may revoke in writing to HIM.",
            "statement_conditioning": "Treatment is not conditioned on signing.",
            "statement_redisclosure": "The recipient may redisclose; it is then no longer protected."}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


@pytest.fixture
def form(tmp_path):
    def write(name: str = "auth.yaml", **overrides):
        path = tmp_path / name
        path.write_text(yaml.safe_dump(authorization(**overrides)))
        return path

    return write

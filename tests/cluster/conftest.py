"""A simulated month ingested into a vault (its events in blocks), with some of the vault's own
events (rows) among them: what a month's export reads."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from auditor.audit.events import AuditEvent
from auditor.ingest.ehr_import import ingest_directory
from auditor.policy.rules import load_policy
from auditor.simulation.writer import write_hospital
from auditor.vault.settings import set_organisation_timezone

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(scope="session")
def policy():
    return load_policy()


@pytest.fixture(scope="session")
def simulated_month(tmp_path_factory):
    return write_hospital(tmp_path_factory.mktemp("sim") / "hospital", 11, events=12_000, workforce=120,
                          patients=1_500)


def own_events(vault, users: list[str], patients: list[int]) -> None:
    """The vault's own accesses (row-stored), one a day, some at the edges of the local days."""
    events = [AuditEvent(at=datetime(2026, 11, day, hour, 30, tzinfo=timezone.utc), action="view",
                         user_id=users[day % len(users)], role="nurse", patient_id=patients[day % len(patients)],
                         break_glass=day % 7 == 0, reason="seen in the ED" if day % 7 == 0 else None)
              for day in range(1, 29) for hour in (4, 5, 17)]
    with vault.records.begin() as conn:
        appended = vault.audit_log.append(conn, events)
    vault.audit_log.after_commit(appended, len(events))


def load_november(vault, simulated_month) -> None:
    """The simulated November ingested into `vault`, then some of the vault's own accesses."""
    from sqlalchemy import select

    from auditor.vault.records import Patient, WorkforceMember

    set_organisation_timezone(vault.gateway, NEW_YORK)
    ingest_directory(vault.gateway, simulated_month.folder, NEW_YORK)
    with vault.records.connect() as conn:
        users = list(conn.scalars(select(WorkforceMember.user_id).order_by(WorkforceMember.id).limit(5)))
        patients = list(conn.scalars(select(Patient.id).order_by(Patient.id).limit(9)))
    own_events(vault, users, patients)


@pytest.fixture
def month_vault(request, backend, tmp_path, clock, simulated_month):
    """A fresh vault (each backend) holding the simulated November and some of its own accesses: a copy
    of one the xdist worker filled once (tests.vault_templates)."""
    from tests.conftest import fresh_vault

    vault = fresh_vault(request, backend, tmp_path / "home", clock,
                        fill=("simulated November", lambda filling: load_november(filling, simulated_month)))
    yield vault
    vault.close()


@pytest.fixture(scope="session")
def exported_november(simulated_month, policy, tmp_path_factory):
    """(the export folder, the vault's public key) of the simulated November in a SQLite vault, its own
    accesses among the imported ones: made once a session."""
    from auditor.home import create_home
    from auditor.review.month_export import export_month
    from auditor.review.period import month_period
    from tests.conftest import FAST_SCRYPT

    root = tmp_path_factory.mktemp("exported")
    vault = create_home(root / "home", scrypt_n=FAST_SCRYPT)
    try:
        load_november(vault, simulated_month)
        export_month(vault, month_period("2026-11", NEW_YORK), policy, root / "nov", "officer")
        return root / "nov", vault.keyring.signing_public_key
    finally:
        vault.close()


@pytest.fixture(scope="session")
def local_engine(exported_november, tmp_path_factory):
    """The local engine's findings, report and evaluation of the session's vault, each made once a
    session when first asked for (tests.cluster.local_runs)."""
    from tests.cluster.local_runs import LocalEngine

    return LocalEngine(exported_november[0].parent / "home", tmp_path_factory.mktemp("local-engine"))

"""Shared fixtures: a fixed clock, fresh vaults on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from auditor.cli import main
from auditor.clock import FixedClock
from auditor.home import Vault, create_home
from tests.postgres_server import ThrowawayPostgres
from tests.signed_in import sign_in, time_of

SYNTHEA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "synthea" / "csv"
FAST_SCRYPT = 2**10  # tests only: the real cost is SCRYPT_N
# Spark's settings for the tests (a JVM that starts small jobs sooner), unless SPARK_CONF_DIR says others.
os.environ.setdefault("SPARK_CONF_DIR", str(Path(__file__).resolve().parent / "spark-conf"))


@pytest.fixture(scope="session")
def postgres_url():
    """The admin URL of a PostgreSQL server: AUDITOR_TEST_POSTGRES_URL, or a throwaway cluster. Where
    none can be started the PostgreSQL tests skip, saying why; but not where AUDITOR_TEST_POSTGRES_REQUIRED
    is 1 (.ci/run sets it): there they fail, so that CI never passes without testing PostgreSQL."""
    url = os.environ.get("AUDITOR_TEST_POSTGRES_URL")
    server = None
    if not url:
        server = ThrowawayPostgres()
        try:
            url = server.start()
        except Exception as exc:  # noqa: BLE001 - any failure means: no server here
            server.stop()
            reason = f"no PostgreSQL server could be started: {exc}"
            if os.environ.get("AUDITOR_TEST_POSTGRES_REQUIRED") == "1":
                pytest.fail(f"{reason} (AUDITOR_TEST_POSTGRES_REQUIRED=1: CI tests PostgreSQL for real)")
            print(f"\nSKIPPING PostgreSQL tests: {reason}")
            pytest.skip(reason)
    yield url
    if server:
        server.stop()


@pytest.fixture
def fresh_postgres_db(postgres_url):
    """A new empty database on the server; returns a factory so a test can ask for several."""
    made = []
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")

    def make(icu_locale: str | None = None, template: str | None = None) -> str:
        """icu_locale: the database's collation is that language's (ICU), as a hospital's may be.
        template: a copy of that database (tests.vault_templates), not an empty one."""
        name = f"auditor_test_{uuid.uuid4().hex[:12]}"
        if icu_locale and template:
            raise ValueError("a database is made with an ICU locale or from a template, not both")
        options = f" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '{icu_locale}'" if icu_locale else ""
        options += f' TEMPLATE "{template}"' if template else ""
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{options}'))
        made.append(name)
        return make_url(postgres_url).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in made:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class EmptyRecords(NamedTuple):
    engine: object  # sqlalchemy Engine of an empty records database
    config: object  # its Alembic config: command.upgrade(config, "r00NN") brings it to that revision


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_records(request, tmp_path):
    """An empty records database on each backend, for a migration's test to bring to the revision
    before it, then to the newest (database.upgrade) and back (command.downgrade)."""
    from auditor import database

    url = (request.getfixturevalue("fresh_postgres_db")() if request.param == "postgres"
           else f"sqlite:///{tmp_path / 'records.db'}")
    engine = database.connect(url, must_exist=False)
    yield EmptyRecords(engine, database._alembic_config("records", engine))
    engine.dispose()


FILLER = ".filler"  # the file that fills the full_disk fixture's filesystem


@pytest.fixture
def full_disk(tmp_path):
    """A folder on a filesystem with 16 KiB left: a 1 MiB tmpfs, mounted for the test (needs root, as
    CI has; elsewhere the tests that need it skip and say why). A write beyond that fails with ENOSPC,
    as on a real full disk, without patching anything."""
    mount = tmp_path / "full-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs to fill ({done.stderr.strip() or 'mount failed'})")
    try:
        with open(mount / FILLER, "wb") as filler:
            filler.write(b"\0" * (1024 * 1024 - 16 * 1024))
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.fixture
def clock():
    return FixedClock(datetime(2026, 11, 2, 14, 0, tzinfo=timezone.utc))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request):
    return request.param


@pytest.fixture(scope="session")
def vault_templates(tmp_path_factory):
    """Fresh vaults made once a session (each xdist worker's), copied for each test's `vault`
    (tests.vault_templates). The PostgreSQL server is asked for only by a test on it."""
    from tests.vault_templates import VaultTemplates

    templates = VaultTemplates(tmp_path_factory.mktemp("vault-templates"), FAST_SCRYPT)
    yield templates
    templates.drop()


def fresh_vault(request, backend: str, home: Path, clock, **options) -> Vault:
    """A fresh vault home on `backend` (records on PostgreSQL, key store in a second database): a
    copy of one create_home made (tests.vault_templates)."""
    templates = request.getfixturevalue("vault_templates")
    if backend == "postgres":
        server = request.getfixturevalue("postgres_url"), request.getfixturevalue("fresh_postgres_db")
        return templates.vault(home, clock, server, **options)
    return templates.vault(home, clock, **options)


@pytest.fixture
def vault(request, backend, tmp_path, clock) -> Vault:
    """A fresh vault home on each backend (records on PostgreSQL, key store in a second database)."""
    v = fresh_vault(request, backend, tmp_path / "home", clock)
    yield v
    v.close()


@pytest.fixture
def sqlite_vault(tmp_path, clock) -> Vault:
    v = create_home(tmp_path / "home", clock=clock)
    yield v
    v.close()


@pytest.fixture
def population(vault, clock):
    """A small hospital: patients (one restricted, one VIP), staff with and without relationships."""
    from datetime import date, timedelta

    from auditor.vault.gateway import (AccessContext, CareTeamRecord, DocumentRecord, EncounterRecord,
                                       PatientDemographics, WorkforceRecord)

    svc = AccessContext.service("import")
    now = clock.at
    g = vault.gateway
    g.register_patients(svc, [
        PatientDemographics("MRN-1", "Zoë", "Müller", "1970-03-04", "F", "12 Main Street", "Boston", "MA", "02111",
                            "(617) 555-0101"),
        PatientDemographics("MRN-2", "Ann", "Lee", "1985-07-08", "F", "9 Elm Road", "Boston", "MA", "02112", "617.555.0199",
                            restricted=True),
        PatientDemographics("MRN-3", "Rex", "Star", "1960-01-01", "M", "1 Hill Lane", "Boston", "MA", "02113", None, vip=True),
    ])
    g.register_workforce(svc, [
        WorkforceRecord("dr.house", "physician", "Greg", "House", department="Cardiology", hire_date=date(2020, 1, 1)),
        WorkforceRecord("n.joy", "nurse", "Joy", "Nurse", department="Oncology", hire_date=date(2020, 1, 1)),
        WorkforceRecord("b.ill", "billing", "Bill", "Ing", department="Finance", hire_date=date(2020, 1, 1)),
        WorkforceRecord("t.erm", "physician", "Terry", "Minated", department="Cardiology", hire_date=date(2015, 1, 1),
                        termination_date=date(2026, 10, 31)),
        WorkforceRecord("it.guy", "it", "Ivan", "Tech", department="IT", hire_date=date(2020, 1, 1)),
        WorkforceRecord("dr.other", "physician", "Olga", "Other", department="Dermatology", hire_date=date(2020, 1, 1)),
    ])
    g.add_encounters(svc, [
        EncounterRecord("test", "E1", "MRN-1", "outpatient", now - timedelta(days=2), now - timedelta(days=2),
                        "Cardiology", "dr.house"),
        EncounterRecord("test", "E2", "MRN-2", "inpatient", now - timedelta(days=3), now + timedelta(days=1),
                        "Cardiology", None),
    ], [CareTeamRecord("MRN-2", "n.joy", now - timedelta(days=3))])
    g.add_documents(svc, [
        DocumentRecord("MRN-1", "condition", now - timedelta(days=2), "Hypertension", "BP 150/95"),
        DocumentRecord("MRN-1", "note", now - timedelta(days=2), "Therapy session", "private words",
                       sensitivity="psychotherapy_note"),
        DocumentRecord("MRN-1", "condition", now - timedelta(days=2), "HIV infection", "viral load", sensitivity="hiv"),
    ])
    return vault


class Result(NamedTuple):
    """What a command did: its exit status and what it printed (unpacks as code, out, err)."""

    code: int
    out: str
    err: str


def cli_environment(env: pytest.MonkeyPatch, root: Path) -> None:
    """What `auditor` runs commands in: AUDITOR_HOME root/home, a private XDG_RUNTIME_DIR (root/run) for
    the session tokens, no AUDITOR_PASSPHRASE."""
    runtime = root / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env.setenv("AUDITOR_HOME", str(root / "home"))
    env.setenv("XDG_RUNTIME_DIR", str(runtime))
    env.delenv("AUDITOR_PASSPHRASE", raising=False)


def run_cli(*args, clock=None, user: str | None = None, input: str | None = None, capsys=None) -> Result:
    """`auditor ARGS` in-process, in the environment cli_environment made (the `auditor` fixture's run).
    Its output is read from `capsys` when one is given and nothing is typed in, else from click's
    isolated streams."""
    if user is not None:
        sign_in(args[1] if args and args[0] == "--home" else None, user, time_of(clock))
    if capsys is not None:
        capsys.readouterr()
    isolated = capsys is None or input is not None
    with CliRunner().isolation(input=input) if isolated else nullcontext(None) as streams:
        try:
            main([str(a) for a in args], clock=clock)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        if streams is not None:
            return Result(code, streams[0].getvalue().decode(), streams[1].getvalue().decode())
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


@pytest.fixture
def auditor(capsys, monkeypatch, tmp_path):
    """Run `auditor ARGS` in-process (each arg as str); returns Result(code, out, err). AUDITOR_HOME
    is tmp_path/home. `run(..., clock=FixedClock(...))` runs the command on that day (default: the
    system clock; a test whose dates are compared with "today" must give one). `run(..., user="officer")`
    runs it signed in as that account of tests.signed_in.STAFF (on the home that exists by then), as
    `auditor login` would have left it; the session token goes to a private XDG_RUNTIME_DIR.
    `run(..., input="...")`: what the command reads on standard input (a witness's password)."""
    cli_environment(monkeypatch, tmp_path)

    def run(*args, clock=None, user: str | None = None, input: str | None = None) -> Result:
        return run_cli(*args, clock=clock, user=user, input=input, capsys=capsys)

    return run


@pytest.fixture(scope="session")
def built_office(tmp_path_factory):
    """The small privacy office of tests/web/office.py (a month, reviewed, an account per role), built
    once a session for tests/web and tests/browser; a test uses a copy of it (copy_office), never it."""
    from tests.web.office import build_office

    return build_office(tmp_path_factory.mktemp("office"))


# One Chromium a session for every browser test (tests/browser, tests/reporting/test_browser.py):
# Playwright's sync API runs one event loop per thread, so a second sync_playwright() while the first
# is open fails ("Sync API inside the asyncio loop").
CHROMIUM = os.environ.get("AUDITOR_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
# Headless and quiet: no GPU, no QUIC, no first-run, no background fetches, updates or sync. The
# sandbox needs user namespaces a container seldom has. Playwright gives each launch a fresh
# user-data-dir of its own (an empty profile, removed at the end).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium under Playwright, headless; skipped, saying why, where it is missing."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM:
        pytest.skip("no Chromium on this machine (apt-get install chromium; .ci/run installs it); "
                    "`npx playwright install` browsers are not used")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()

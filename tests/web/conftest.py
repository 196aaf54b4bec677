"""The web app in-process (Starlette's TestClient), over a fresh vault whose clock the test moves: one
staff account per role, signed in as a person would, the password then the code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from auditor.home import create_home
from auditor.policy.rules import load_policy
from auditor.review.period import month_period, review_period
from auditor.staff.accounts import StaffAccounts
from auditor.staff.roles import ROLES
from auditor.vault.records import Case
from auditor.web.app import create_app
from tests.conftest import FAST_SCRYPT
from tests.reporting.report_data import hospital_month
from tests.staff.conftest import code_at

PASSWORD = "tangerine lighthouse"
DECEMBER_2 = datetime(2026, 12, 2, 14, tzinfo=timezone.utc)


@dataclass
class Staff:
    user: str
    password: str
    uri: str


@pytest.fixture
def web_vault(tmp_path, clock):
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    yield vault
    vault.close()


@pytest.fixture
def staff(web_vault) -> dict[str, Staff]:
    """An account per role, each named after its role ("admin" holds only admin, and so on)."""
    accounts = StaffAccounts(web_vault)
    first = accounts.add("admin", "Ada Admin", ("admin",), PASSWORD, None)
    made = {"admin": Staff("admin", PASSWORD, first.otpauth_uri)}
    for role in ROLES:
        if role != "admin":
            enrolment = accounts.add(role, f"{role.title()} Person", (role,), PASSWORD, first.account)
            made[role] = Staff(role, PASSWORD, enrolment.otpauth_uri)
    return made


@pytest.fixture
def november(web_vault, clock, staff) -> dict[str, int]:
    """tests/reporting's November reviewed on 2 December: user id -> case id (t.gone's is critical)."""
    hospital_month(web_vault)
    clock.at = DECEMBER_2
    review_period(web_vault, month_period("2026-11", web_vault.timezone), load_policy())
    with web_vault.records.connect() as conn:
        return {u: i for i, u in conn.execute(select(Case.id, Case.user_id))}


@pytest.fixture
def app(web_vault, clock, staff):
    return create_app(web_vault, clock=clock)


@pytest.fixture
def client(app):
    with TestClient(app, follow_redirects=False) as c:
        yield c


@pytest.fixture
def new_client(app):
    """Another browser on the same app."""
    made = []

    def make(**kwargs) -> TestClient:
        made.append(TestClient(app, follow_redirects=False, **kwargs))
        return made[-1]

    yield make
    for c in made:
        c.close()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]*)"', html).group(1)


def sign_in(client: TestClient, who: Staff, clock) -> TestClient:
    """Sign `who` in with the password, then the code of the clock's time step (a step later than
    any code used before: a code is good once)."""
    clock.at += timedelta(seconds=30)
    form = client.get("/login")
    done = client.post("/login", data={"user": who.user, "password": who.password, "csrf_token": csrf_of(form.text)})
    assert (done.status_code, done.headers["location"]) == (303, "/login/code"), done.text
    code = client.get("/login/code")
    done = client.post("/login/code", data={"code": code_at(who.uri, clock.at), "csrf_token": csrf_of(code.text)})
    assert (done.status_code, done.headers["location"]) == (303, "/"), done.text
    return client


def session_cookie(client: TestClient) -> str | None:
    return client.cookies.get("auditor_session")


def plant(client: TestClient, token: str, name: str = "auditor_session") -> None:
    """Give the browser a cookie, as the app's own would be stored (a fixation attempt, a replay)."""
    client.cookies.set(name, token, domain="testserver.local", path="/")


@pytest.fixture
def office_app(built_office, tmp_path):
    """(the copy, its open vault, its clock, the app over it): this test's own copy of the office."""
    from auditor.clock import FixedClock
    from tests.web.office import STARTS, copy_office

    clock = FixedClock(STARTS)
    copy = copy_office(built_office, tmp_path)
    vault = copy.open(clock)
    yield copy, vault, clock, create_app(vault, clock=clock)
    vault.close()

"""A web vault with patients, a workforce and system accounts of the FHIR endpoint (`epic` sends,
`siem` searches), and AuditEvents as an EHR sends them (tests/ingest/formats/fhir_data's BALP shapes).

    from tests.web.fhir_feeds import feeds, feed_client, event  # noqa: F401  (the fixtures)

Its own vault with one admin, hashed at the smallest cost (tests/web's fixtures add an account per role
at the real cost: two seconds a test).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from starlette.testclient import TestClient

from auditor.home import create_home
from auditor.staff.accounts import StaffAccounts
from auditor.staff.feeds import FeedAccounts
from auditor.vault.gateway import AccessContext, PatientDemographics, WorkforceRecord
from auditor.web.app import create_app
from tests.conftest import FAST_SCRYPT
from tests.signed_in import FAST_HASHING

FHIR = "application/fhir+json"
PASSWORD = "tangerine lighthouse"


@dataclass
class Feeds:
    vault: object
    tokens: dict[str, str]  # account name -> its bearer token
    admin_uri: str  # the admin's otpauth:// URI (to sign in with tests.web.conftest.sign_in)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}", "Content-Type": FHIR}


def make_feeds(web_vault) -> Feeds:
    """On `web_vault`: an admin, two patients, a physician, and the feed accounts epic, siem and both."""
    enrolment = StaffAccounts(web_vault, FAST_HASHING).add("admin", "Ada Admin", ("admin",), PASSWORD, None)
    svc = AccessContext.service("import")
    web_vault.gateway.register_patients(svc, [
        PatientDemographics("MRN-1", "Zoë", "Müller", "1970-03-04", "F", "12 Main Street", "Boston", "MA", "02111", None),
        PatientDemographics("MRN-2", "Ann", "Lee", "1985-07-08", "F", "9 Elm Road", "Boston", "MA", "02112", None)])
    web_vault.gateway.register_workforce(svc, [
        WorkforceRecord("dr.house", "physician", "Greg", "House", department="Cardiology", hire_date=date(2020, 1, 1))])
    accounts = FeedAccounts(web_vault)
    tokens = {name: accounts.add(name, scopes, enrolment.account).token
              for name, scopes in (("epic", ("feed",)), ("siem", ("search",)), ("both", ("feed", "search")))}
    return Feeds(web_vault, tokens, enrolment.otpauth_uri)


@pytest.fixture
def feeds(tmp_path, clock) -> Feeds:
    web_vault = create_home(tmp_path / "feed-home", clock=clock, scrypt_n=FAST_SCRYPT)
    yield make_feeds(web_vault)
    web_vault.close()


@pytest.fixture
def feed_client(feeds, clock):
    with TestClient(create_app(feeds.vault, clock=clock), follow_redirects=False) as client:
        yield client


def event(n: int, mrn: str | None = "MRN-1", user: str | None = "dr.house", **changes) -> dict:
    """A BALP PatientRead by `user` of `mrn`'s record, id `ev-<n>`, on 1 November 2026."""
    resource = {"resourceType": "AuditEvent", "id": f"ev-{n}",
                "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
                "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}],
                "action": "R", "recorded": f"2026-11-01T10:{n % 60:02d}:00-05:00", "outcome": "0",
                "agent": [{"who": {"identifier": {"value": user}}, "requestor": True,
                           "network": {"address": "ws-12", "type": "1"}}],
                "source": {"observer": {"display": "EHR"}}}
    if user is None:
        resource["agent"][0]["who"] = {"display": "nobody we know"}
    if mrn is not None:
        resource["entity"] = [{"what": {"identifier": {"value": mrn}}, "type": {"code": "1"}, "role": {"code": "1"}}]
    return resource | changes


def logged(vault, source: str) -> list[dict]:
    """The log's events of `source`, as the exporter reads them."""
    from auditor.audit.fhir_export import log_events

    with vault.records.connect() as conn:
        return [e for e in log_events(conn, 0, 1 << 62, vault.keyring.log_mac_key) if e["source"] == source]

"""The audit log page: the log's size, its checkpoints and the last verification kept; a verification
started by a POST whose outcome the page and the home then show (a tampered log said so); an inclusion
proof downloaded as the JSON `auditor audit verify-proof` checks."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from auditor.audit.proofs import check_proof
from auditor.audit.schema import AuditEventRow as E
from tests.web.conftest import csrf_of, sign_in
from tests.web.test_home import figure


@pytest.fixture
def office(office_app):
    copy, vault, clock, app = office_app
    with TestClient(app, follow_redirects=False) as client:
        yield copy, vault, clock, client


def _post(client, path, **form):
    return client.post(path, data={"csrf_token": csrf_of(client.get("/audit-log").text), **form})


def _size(vault) -> int:
    with vault.records.connect() as conn:
        return vault.audit_log.size(conn)


def test_the_page_shows_the_log_and_its_checkpoints(office):
    copy, vault, clock, client = office
    sign_in(client, copy.staff["privacy_officer"], clock)
    html = client.get("/audit-log").text
    assert f'id="log-size">{_size(vault):,}<' in html
    assert 'id="log-verified">not verified yet<' in html
    latest = vault.checkpoints.latest()
    assert f"<tr><td>{latest.size:,}</td><td>{latest.at}</td>" in html


def test_a_verification_started_here_is_kept_and_shown_on_the_home(office):
    copy, vault, clock, client = office
    sign_in(client, copy.staff["admin"], clock)
    size = _size(vault)
    done = _post(client, "/audit-log/verify")
    assert done.status_code == 200 and f"The log verifies: {size:,} events" in done.text
    assert figure(client.get("/").text, "verified").startswith(f"verified: {size:,} events")


def test_a_tampered_log_is_said_not_to_verify(office):
    copy, vault, clock, client = office
    with vault.records.begin() as conn:  # someone with write access to records.db rewrites an event
        conn.execute(update(E).where(E.seq == 2).values(detail="nothing happened"))
    sign_in(client, copy.staff["privacy_officer"], clock)
    done = _post(client, "/audit-log/verify")
    assert "THE LOG DOES NOT VERIFY" in done.text and 'id="problems"' in done.text
    assert figure(client.get("/").text, "verified").startswith("DOES NOT VERIFY")


def test_an_inclusion_proof_is_downloaded_and_checks(office):
    copy, vault, clock, client = office
    sign_in(client, copy.staff["privacy_officer"], clock)
    done = _post(client, "/audit-log/proof", seq="3")
    assert done.status_code == 200 and done.headers["content-type"].startswith("application/json")
    assert done.headers["content-disposition"] == 'attachment; filename="inclusion-proof-3.json"'
    assert done.headers["cache-control"] == "no-store"
    proof = json.loads(done.text)
    assert proof["seq"] == 3 and check_proof(proof, vault.keyring.signing_public_key).ok
    proof["seq"] = 4
    assert not check_proof(proof, vault.keyring.signing_public_key).ok


@pytest.mark.parametrize("seq, status, said", [("x", 400, "sequence number"), ("0", 400, "sequence number"),
                                               ("99999999", 404, "is not covered")])
def test_a_proof_of_no_event_is_refused(office, seq, status, said):
    copy, vault, clock, client = office
    sign_in(client, copy.staff["admin"], clock)
    done = _post(client, "/audit-log/proof", seq=seq)
    assert done.status_code == status and said in done.text

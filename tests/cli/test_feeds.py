"""auditor feeds add | list | revoke through the CLI: an admin signed in adds a system account and
gets its bearer token once; the token sends events to the web app until the account is revoked; what
the feed sent that was refused is listed by `auditor ingest --rejected`; the log verifies after all of
it. Everyone else is refused in one line (exit 2)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timezone

from starlette.testclient import TestClient

from auditor.clock import FixedClock
from auditor.home import Vault
from auditor.web.app import create_app
from tests.web.fhir_feeds import FHIR, event

CLOCK = FixedClock(datetime(2026, 11, 2, 14, 0, tzinfo=timezone.utc))


@contextmanager
def web(home):
    vault = Vault.open(home, None, clock=CLOCK)
    try:
        with TestClient(create_app(vault, clock=CLOCK)) as client:
            yield client
    finally:
        vault.close()


def send(home, token: str, resource: dict) -> int:
    with web(home) as client:
        return client.post("/fhir/AuditEvent", content=json.dumps(resource),
                           headers={"Authorization": f"Bearer {token}", "Content-Type": FHIR}).status_code


def test_an_admin_adds_lists_and_revokes_a_feed_account_whose_token_works_until_then(auditor, tmp_path):
    home = tmp_path / "home"
    assert auditor("init", clock=CLOCK).code == 0
    added = auditor("feeds", "add", "epic", "--scope", "feed", clock=CLOCK, user="admin")
    assert added.code == 0, added.err
    token = added.out.strip()
    assert token.startswith("afeed_") and "shown only now" in added.err and token not in added.err
    listed = auditor("feeds", "list", "--format", "json", clock=CLOCK, user="admin")
    assert [(r["name"], r["scopes"], r["status"], r["created_by"]) for r in json.loads(listed.out)] == [
        ("epic", ["feed"], "active", "admin")]
    assert token not in listed.out

    assert send(home, token, event(1, mrn=None, action="E")) == 201  # a search of no patient: no context needed
    assert send(home, token, event(2, user=None)) == 422
    rejected = auditor("ingest", "--rejected", clock=CLOCK)
    assert rejected.code == 0 and "fhir feed:1: no user" in rejected.out and "[source epic," in rejected.out

    revoked = auditor("feeds", "revoke", "epic", clock=CLOCK, user="admin")
    assert (revoked.code, revoked.out.strip()) == (0, "feed account epic revoked")
    assert send(home, token, event(3, mrn=None, action="E")) == 401
    assert "epic\tfeed\trevoked\tadded by admin" in auditor("feeds", "list", clock=CLOCK, user="admin").out
    assert auditor("audit", "verify", clock=CLOCK).code == 0


def test_only_a_signed_in_admin_manages_feed_accounts_and_refusals_are_one_line(auditor):
    assert auditor("init", clock=CLOCK).code == 0
    for args, user, says in [
        (("feeds", "add", "epic"), None, "not signed in"),
        (("feeds", "add", "epic"), "officer", "does not hold the role admin"),
        (("feeds", "list"), "viewer", "does not hold the role admin"),
        (("feeds", "add", "epic", "--scope", "write"), "admin", "one or more of feed, search (not write)"),
        (("feeds", "add", "vault"), "admin", "name of the vault's own events"),
        (("feeds", "add", "a b"), "admin", "letters, digits and . _ -"),
        (("feeds", "revoke", "nobody"), "admin", "no feed account named nobody"),
    ]:
        done = auditor(*args, clock=CLOCK, user=user)
        assert done.code == 2 and says in done.err and len(done.err.strip().splitlines()) == 1, (args, done.err)
    assert auditor("feeds", "add", "epic", clock=CLOCK, user="admin").code == 0
    again = auditor("feeds", "add", "epic", clock=CLOCK, user="admin")
    assert again.code == 2 and "exists already" in again.err
    assert auditor("feeds", "revoke", "epic", clock=CLOCK, user="admin").code == 0
    twice = auditor("feeds", "revoke", "epic", clock=CLOCK, user="admin")
    assert twice.code == 2 and "revoked already" in twice.err


def test_a_certificate_file_that_is_not_one_certificate_is_refused_in_one_line(auditor, tmp_path):
    assert auditor("init", clock=CLOCK).code == 0
    (tmp_path / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    done = auditor("feeds", "add", "pacs", "--certificate", str(tmp_path / "key.pem"), clock=CLOCK, user="admin")
    assert done.code == 2 and done.err.strip() == "auditor: the certificate file holds no PEM certificate"
    assert json.loads(auditor("feeds", "list", "--format", "json", clock=CLOCK, user="admin").out) == []

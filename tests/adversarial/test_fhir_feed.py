"""The attacker's view of the FHIR endpoint: a caller with a forged, revoked or other-scope token, or
with a staff member's session cookie instead of a token; someone who can write records.db but does not
hold the keyring (a feed account inserted, a token hash swapped, a scope widened, a revocation lifted);
a feed that claims to be another source; and bodies too big or nested too deep. Each is refused (401,
403, 413, 400) with nothing of it in the log, the database tampering is named by `audit verify`, and a
feed's events are logged under its own account's name whatever they say."""

from __future__ import annotations

import hashlib
import json
import secrets

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from auditor.errors import SignInRequired
from auditor.review.audit_log import verify_audit_log
from auditor.review.ingest import quarantined
from auditor.staff.feeds import FeedAccounts
from auditor.staff.accounts import StaffAccounts
from tests.ingest.tls_certs import make_certificates
from tests.web.conftest import Staff, sign_in
from tests.web.fhir_feeds import FHIR, PASSWORD, event, feed_client, feeds, logged  # noqa: F401  (the fixtures)


def post(client, resource, token: str | None, path="/fhir/AuditEvent"):
    headers = {"Content-Type": FHIR} | ({"Authorization": f"Bearer {token}"} if token is not None else {})
    return client.post(path, content=json.dumps(resource), headers=headers)


def search(client, token: str):
    return client.post("/fhir/AuditEvent/_search", content="patient=MRN-1",
                       headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-www-form-urlencoded"})


def sql(vault, statement: str, **values) -> list:
    with vault.records.begin() as conn:
        result = conn.exec_driver_sql(statement, values) if values else conn.exec_driver_sql(statement)
        return result.fetchall() if result.returns_rows else []


def nothing_sent(feeds) -> bool:  # noqa: F811
    return all(logged(feeds.vault, name) == [] and quarantined(feeds.vault, name) == [] for name in feeds.tokens)


def ledger_problems(vault) -> list[str]:
    return [p.message for p in verify_audit_log(vault).result.problems]


def test_a_forged_token_or_none_is_401_and_sends_nothing(feed_client, feeds):  # noqa: F811
    for token in (None, "", "afeed_" + secrets.token_urlsafe(32), feeds.tokens["epic"][:-1], feeds.tokens["epic"] + "x",
                  feeds.tokens["epic"].removeprefix("afeed_"), "afeed_" + "A" * 500):
        done = post(feed_client, event(1), token)
        assert done.status_code == 401 and done.json()["issue"][0]["code"] == "login", token
    basic = feed_client.post("/fhir/AuditEvent", content=json.dumps(event(1)),
                             headers={"Authorization": f"Basic {feeds.tokens['epic']}", "Content-Type": FHIR})
    assert basic.status_code == 401 and nothing_sent(feeds)


def test_a_revoked_account_s_token_is_401(feed_client, feeds):  # noqa: F811
    assert post(feed_client, event(1), feeds.tokens["epic"]).status_code == 201
    admin = next(a for a in StaffAccounts(feeds.vault).list() if a.user_name == "admin")
    FeedAccounts(feeds.vault).revoke("epic", admin)
    assert post(feed_client, event(2), feeds.tokens["epic"]).status_code == 401
    assert [e["source_event_id"] for e in logged(feeds.vault, "epic")] == ["ev-1"]


def test_a_token_of_another_scope_is_403(feed_client, feeds):  # noqa: F811
    assert post(feed_client, event(1), feeds.tokens["siem"]).status_code == 403  # a searcher sends nothing
    assert post(feed_client, event(1), feeds.tokens["siem"], path="/fhir").status_code == 403
    refused = search(feed_client, feeds.tokens["epic"])  # a feed reads nothing back
    assert refused.status_code == 403 and "MRN" not in refused.text
    assert nothing_sent(feeds)
    assert search(feed_client, feeds.tokens["both"]).status_code == 200


def test_a_staff_session_cookie_is_no_credential_here(feed_client, feeds, clock):  # noqa: F811
    sign_in(feed_client, Staff("admin", PASSWORD, feeds.admin_uri), clock)
    assert feed_client.get("/").status_code == 200  # signed in: the cookie is good for the pages
    assert post(feed_client, event(1), None).status_code == 401
    assert post(feed_client, event(1), None, path="/fhir").status_code == 401
    assert feed_client.post("/fhir/AuditEvent/_search", data={"patient": "MRN-1"}).status_code == 401
    assert nothing_sent(feeds)


def test_a_feed_account_inserted_by_sql_opens_nothing_and_audit_verify_names_it(feed_client, feeds):  # noqa: F811
    token = "afeed_" + secrets.token_urlsafe(32)
    sql(feeds.vault, "INSERT INTO feed_accounts (id, name, scopes, token_hash, created_at, created_by, revoked_at, seal) "
                     "SELECT 99, 'mallory', 'feed,search', :hash, created_at, created_by, NULL, seal "
                     "FROM feed_accounts WHERE name = 'both'", hash=hashlib.sha256(token.encode()).digest())
    assert post(feed_client, event(1), token).status_code == 401
    assert search(feed_client, token).status_code == 401
    assert "feed_accounts row 99 was inserted behind the gateway: no audit event recorded it" in ledger_problems(feeds.vault)


def test_a_token_hash_swapped_a_scope_widened_or_a_revocation_lifted_by_sql_opens_nothing(feed_client, feeds):  # noqa: F811
    mine = "afeed_" + secrets.token_urlsafe(32)
    sql(feeds.vault, "UPDATE feed_accounts SET token_hash = :hash WHERE name = 'both'",
        hash=hashlib.sha256(mine.encode()).digest())
    assert post(feed_client, event(1), mine).status_code == 401
    sql(feeds.vault, "UPDATE feed_accounts SET scopes = 'feed,search' WHERE name = 'epic'")
    assert search(feed_client, feeds.tokens["epic"]).status_code == 401  # the seal no longer holds: no scope at all
    admin = next(a for a in StaffAccounts(feeds.vault).list() if a.user_name == "admin")
    FeedAccounts(feeds.vault).revoke("siem", admin)
    sql(feeds.vault, "UPDATE feed_accounts SET revoked_at = NULL WHERE name = 'siem'")
    assert search(feed_client, feeds.tokens["siem"]).status_code == 401
    ids = dict(sql(feeds.vault, "SELECT name, id FROM feed_accounts"))
    problems = ledger_problems(feeds.vault)
    for name in ("both", "epic", "siem"):
        assert any(p.startswith(f"feed_accounts row {ids[name]} was edited behind the gateway") for p in problems), name
    assert nothing_sent(feeds)


def test_an_event_claiming_another_source_is_logged_under_the_feed_account_s_name(feed_client, feeds):  # noqa: F811
    claims = event(1, source={"site": "cerner", "observer": {"display": "cerner", "identifier": {"value": "vault"}}})
    assert post(feed_client, claims, feeds.tokens["epic"]).status_code == 201
    [kept] = logged(feeds.vault, "epic")
    assert kept["user_id"] == "dr.house"  # the agent is still the EHR user who did the access
    assert logged(feeds.vault, "cerner") == [] and not any(e["source_event_id"] == "ev-1" for e in logged(feeds.vault, "vault"))


def test_an_oversized_body_is_413_however_it_is_sent(feed_client, feeds):  # noqa: F811
    big = json.dumps(event(1) | {"padding": "x" * (2 << 20)}).encode()
    auth = {"Authorization": f"Bearer {feeds.tokens['epic']}", "Content-Type": FHIR}
    assert feed_client.post("/fhir/AuditEvent", content=big, headers=auth).status_code == 413

    def chunks():  # no Content-Length: chunked, the limit counted as it is read
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    assert feed_client.post("/fhir/AuditEvent", content=chunks(), headers=auth).status_code == 413
    lying = feed_client.post("/fhir/AuditEvent", content=b"{}", headers=auth | {"Content-Length": "-1"})
    assert lying.status_code in (400, 413)
    huge = json.dumps({"resourceType": "Bundle", "type": "batch", "entry": [{"resource": event(1)}] * 1001})
    assert feed_client.post("/fhir", content=huge, headers=auth).status_code == 400  # too many entries: not read
    assert nothing_sent(feeds)


def test_a_body_nested_too_deep_is_refused_and_kept_without_crashing(feed_client, feeds):  # noqa: F811
    auth = {"Authorization": f"Bearer {feeds.tokens['epic']}", "Content-Type": FHIR}
    for depth in (40, 5000):
        nested = event(depth)
        nested["extension"] = json.loads("[" * depth + "]" * depth) if depth < 1000 else None
        body = json.dumps(nested).encode() if depth < 1000 else b'{"a":' + b"[" * depth + b"]" * depth + b"}"
        done = feed_client.post("/fhir/AuditEvent", content=body, headers=auth)
        assert done.status_code == 400 and "nested" in done.json()["issue"][0]["diagnostics"], depth
        bundle = b'{"resourceType":"Bundle","type":"batch","entry":' + b"[" * depth + b"]" * depth + b"}"
        assert feed_client.post("/fhir", content=bundle, headers=auth).status_code == 400
    assert logged(feeds.vault, "epic") == []
    assert len(quarantined(feeds.vault, "epic")) == 2  # the single events, sealed; the refused Bundles are not read


def test_a_client_certificate_fingerprint_planted_by_sql_opens_nothing_and_audit_verify_names_it(feeds, tmp_path):  # noqa: F811
    """An attacker who can write records.db registers their own certificate's SHA-256 on an account
    (or on a new row): the seal does not hold, so the certificate opens nothing."""
    (tmp_path / "mallory").mkdir()
    mine = make_certificates(tmp_path / "mallory")["client"]
    der = x509.load_pem_x509_certificate(mine.read_bytes()).public_bytes(Encoding.DER)
    sql(feeds.vault, "UPDATE feed_accounts SET cert_sha256 = :hash WHERE name = 'both'", hash=hashlib.sha256(der).digest())
    accounts = FeedAccounts(feeds.vault)
    try:
        accounts.authenticate_certificate(der)
        raise AssertionError("a planted certificate was taken")
    except SignInRequired:
        pass
    ids = dict(sql(feeds.vault, "SELECT name, id FROM feed_accounts"))
    assert any(p.startswith(f"feed_accounts row {ids['both']} was edited behind the gateway")
               for p in ledger_problems(feeds.vault))
    assert nothing_sent(feeds)

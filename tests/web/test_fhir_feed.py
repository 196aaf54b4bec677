"""The FHIR endpoint for system accounts (auditor.web.fhir): an AuditEvent POSTed with a bearer token is
in the log under the feed account's name when the server answers 201; a resent one adds nothing; one
that names no user, time or action (or no patient the vault knows) is refused with an OperationOutcome
that quotes nothing of it and kept in quarantine; a batch Bundle answers each entry; a write that fails
is a 5xx with nothing of it kept; a patient's events come back as a searchset from POST _search, and a
search by GET (an MRN in the URL) is refused without echoing it."""

from __future__ import annotations

import json
import logging
from datetime import date

from auditor.review.ingest import quarantined
from tests.refusing_database import refusing
from starlette.testclient import TestClient

from auditor.review.fhir_feed import patient_events
from auditor.staff.feeds import FeedAccounts
from auditor.web.app import create_app
from tests.web.fhir_feeds import FHIR, event, feed_client, feeds, logged, make_feeds  # noqa: F401  (the fixtures)

FORM = "application/x-www-form-urlencoded"


def post(client, feeds, resource, account="epic", path="/fhir/AuditEvent"):  # noqa: F811
    return client.post(path, content=json.dumps(resource), headers=feeds.auth(account))


def batch(*resources, method="POST", url="AuditEvent") -> dict:
    return {"resourceType": "Bundle", "type": "batch",
            "entry": [{"resource": r, "request": {"method": method, "url": url}} for r in resources]}


def test_an_event_is_in_the_log_under_the_feed_account_s_name_when_the_server_answers_201(feed_client, feeds):  # noqa: F811
    done = post(feed_client, feeds, event(1))
    assert done.status_code == 201 and done.headers["content-type"].startswith(FHIR)
    assert done.json()["issue"][0]["diagnostics"] == "in the audit log"
    [logged_event] = logged(feeds.vault, "epic")  # read from the database after the answer: committed
    assert (logged_event["source_event_id"], logged_event["user_id"], logged_event["role"], logged_event["action"],
            logged_event["workstation"]) == ("ev-1", "dr.house", "physician", "view", "ws-12")
    assert logged_event["patient_id"] is not None


def test_on_each_database_an_event_sent_twice_is_in_the_log_once_and_found_by_a_search(vault, clock):
    on = make_feeds(vault)
    with TestClient(create_app(vault, clock=clock)) as client:
        assert [post(client, on, batch(event(1), event(2)), path="/fhir").status_code for _ in range(2)] == [200, 200]
        assert post(client, on, event(3, user=None)).status_code == 422
        found = search(client, on, "patient=MRN-1").json()
    assert sorted(e["source_event_id"] for e in logged(vault, "epic")) == ["ev-1", "ev-2"]
    assert [e["resource"]["id"] for e in found["entry"] if e["resource"]["id"].startswith("ev-")] == ["ev-1", "ev-2"]
    assert len(quarantined(vault, "epic")) == 1


def test_a_resent_event_adds_nothing(feed_client, feeds):  # noqa: F811
    assert post(feed_client, feeds, event(1)).status_code == 201
    again = post(feed_client, feeds, event(1))
    assert again.status_code == 200 and "already" in again.json()["issue"][0]["diagnostics"]
    assert len(logged(feeds.vault, "epic")) == 1


def test_an_event_that_names_no_user_is_refused_quoting_nothing_and_kept_in_quarantine(feed_client, feeds):  # noqa: F811
    done = post(feed_client, feeds, event(2, user=None))
    assert done.status_code == 422
    diagnostics = done.json()["issue"][0]["diagnostics"]
    assert diagnostics.startswith("no user") and diagnostics.endswith("kept in quarantine")
    assert not any(value in done.text for value in ("MRN-1", "ev-2", "nobody we know", "ws-12"))
    assert logged(feeds.vault, "epic") == []
    [kept] = quarantined(feeds.vault, "epic")
    assert (kept.file, kept.line, kept.reason) == ("fhir feed", 1, diagnostics.removesuffix("; kept in quarantine"))


def test_an_event_of_a_patient_the_vault_does_not_know_is_refused_and_kept(feed_client, feeds):  # noqa: F811
    done = post(feed_client, feeds, event(3, mrn="MRN-404"))
    assert done.status_code == 422 and "MRN-404" not in done.text
    assert "mrn not among the patients" in done.json()["issue"][0]["diagnostics"]
    assert [r.reason for r in quarantined(feeds.vault, "epic")] == ["mrn not among the patients"]


def test_an_event_id_sent_again_with_other_content_is_a_conflict_never_an_overwrite(feed_client, feeds):  # noqa: F811
    assert post(feed_client, feeds, event(4)).status_code == 201
    done = post(feed_client, feeds, event(4, mrn="MRN-2"))
    assert done.status_code == 409 and "MRN-2" not in done.text
    [kept] = logged(feeds.vault, "epic")
    assert len(quarantined(feeds.vault, "epic")) == 1 and kept["source_event_id"] == "ev-4"


def test_a_body_that_is_not_json_is_400_and_kept_in_quarantine(feed_client, feeds):  # noqa: F811
    done = feed_client.post("/fhir/AuditEvent", content=b'{"resourceType": "AuditEvent", "id": "MRN-1"', headers=feeds.auth("epic"))
    assert done.status_code == 400 and "MRN-1" not in done.text
    assert done.json()["issue"][0]["diagnostics"].startswith("not JSON")
    assert len(quarantined(feeds.vault, "epic")) == 1


def test_a_batch_answers_a_status_per_entry_and_keeps_the_good_ones(feed_client, feeds):  # noqa: F811
    bundle = batch(event(5), event(6, user=None), event(7, mrn="MRN-2"))
    bundle["entry"].append({"resource": event(8), "request": {"method": "DELETE", "url": "AuditEvent/ev-8"}})
    done = post(feed_client, feeds, bundle, path="/fhir")
    assert done.status_code == 200
    answer = done.json()
    assert (answer["resourceType"], answer["type"]) == ("Bundle", "batch-response")
    assert [e["response"]["status"] for e in answer["entry"]] == ["201 Created", "422 Unprocessable Entity",
                                                                  "201 Created", "400 Bad Request"]
    assert sorted(e["source_event_id"] for e in logged(feeds.vault, "epic")) == ["ev-5", "ev-7"]
    assert [(r.line, r.reason.split(" (")[0]) for r in quarantined(feeds.vault, "epic")] == [
        (2, "no user"), (4, "an entry that is not a POST of an AuditEvent")]
    resent = post(feed_client, feeds, batch(event(5), event(7, mrn="MRN-2")), path="/fhir").json()
    assert [e["response"]["status"] for e in resent["entry"]] == ["200 OK", "200 OK"]
    assert len(logged(feeds.vault, "epic")) == 2


def test_a_transaction_or_another_resource_is_not_a_batch_this_endpoint_takes(feed_client, feeds):  # noqa: F811
    assert post(feed_client, feeds, batch(event(9)) | {"type": "transaction"}, path="/fhir").status_code == 400
    assert post(feed_client, feeds, event(9), path="/fhir").status_code == 400
    assert logged(feeds.vault, "epic") == []


def test_a_write_that_fails_is_a_5xx_and_nothing_of_it_is_kept(feed_client, feeds):  # noqa: F811
    with refusing(feeds.vault.records, "audit_event_blocks", "INSERT"), refusing(feeds.vault.records, "audit_events", "INSERT"):
        done = post(feed_client, feeds, batch(event(10), event(11)), path="/fhir")
    assert done.status_code == 503 and done.json()["issue"][0]["code"] == "transient"
    assert logged(feeds.vault, "epic") == [] and quarantined(feeds.vault, "epic") == []
    assert post(feed_client, feeds, batch(event(10), event(11)), path="/fhir").status_code == 200  # sent again: in
    assert len(logged(feeds.vault, "epic")) == 2


def test_the_wrong_media_type_is_415_and_an_oversized_body_413(feed_client, feeds):  # noqa: F811
    headers = feeds.auth("epic") | {"Content-Type": "text/plain"}
    assert feed_client.post("/fhir/AuditEvent", content=json.dumps(event(12)), headers=headers).status_code == 415
    big = json.dumps(event(12) | {"padding": "x" * (1 << 20)})
    done = feed_client.post("/fhir/AuditEvent", content=big, headers=feeds.auth("epic"))
    assert done.status_code == 413 and done.json()["resourceType"] == "OperationOutcome"
    assert logged(feeds.vault, "epic") == [] and quarantined(feeds.vault, "epic") == []


# -- a patient's events, by POST _search ------------------------------------------------------------------

def search(client, feeds, body: str, account="siem"):  # noqa: F811
    return client.post("/fhir/AuditEvent/_search", content=body, headers=feeds.auth(account) | {"Content-Type": FORM})


def test_a_patient_s_events_come_back_as_a_searchset_and_the_search_is_audited(feed_client, feeds):  # noqa: F811
    for n, mrn in ((20, "MRN-1"), (21, "MRN-2"), (22, "MRN-1")):
        assert post(feed_client, feeds, event(n, mrn=mrn)).status_code == 201
    done = search(feed_client, feeds, "patient=MRN-1&date=ge2026-11-01&date=le2026-11-01")
    assert done.status_code == 200
    answer = done.json()
    ids = [e["resource"]["id"] for e in answer["entry"]]
    assert (answer["type"], answer["total"], ids) == ("searchset", 2, ["ev-20", "ev-22"])
    assert all(e["resource"]["entity"][0]["what"]["identifier"]["value"] == "MRN-1" for e in answer["entry"])
    searches = [e for e in logged(feeds.vault, "vault") if e["action"] == "search" and e["patient_id"] is not None]
    assert [(e["user_id"], e["workstation"]) for e in searches] == [("svc:report", "feed account siem")]
    later = search(feed_client, feeds, "patient=MRN-1&date=ge2026-11-02").json()  # the vault's own events of MRN-1 only
    assert [e["resource"]["id"] for e in later["entry"] if e["resource"]["id"].startswith("ev-")] == []


def test_a_search_for_no_patient_or_with_bad_parameters_quotes_nothing(feed_client, feeds):  # noqa: F811
    unknown = search(feed_client, feeds, "patient=MRN-404")
    assert unknown.status_code == 404 and "MRN-404" not in unknown.text
    for body in ("", "patient=MRN-1&name=Lee", "patient=MRN-1&date=2026-11-01", "patient=MRN-1&patient=MRN-2"):
        done = search(feed_client, feeds, body)
        assert done.status_code == 400 and "MRN-" not in done.text, body


def test_a_search_by_get_puts_no_mrn_in_a_log_or_an_answer(feed_client, feeds, caplog):  # noqa: F811
    with caplog.at_level(logging.INFO, logger="auditor.web"):
        done = feed_client.get("/fhir/AuditEvent?patient=MRN-1", headers=feeds.auth("siem"))
    assert done.status_code == 400 and "MRN-1" not in done.text
    assert "POST /fhir/AuditEvent/_search" in done.json()["issue"][0]["diagnostics"]
    assert caplog.records and not any("MRN-1" in r.getMessage() for r in caplog.records)
    assert any('"GET /fhir/AuditEvent" 400' in r.getMessage() for r in caplog.records)


def test_a_search_gives_the_newest_events_up_to_its_cap_and_says_how_many_matched(feed_client, feeds):  # noqa: F811
    for n in range(1, 6):
        assert post(feed_client, feeds, event(n)).status_code == 201
    siem = next(a for a in FeedAccounts(feeds.vault).list() if a.name == "siem")
    found = patient_events(feeds.vault, siem, "MRN-1", date(2026, 11, 1), date(2026, 11, 1), cap=2)
    assert (found.total, found.capped, [e["id"] for e in found.events]) == (5, True, ["ev-4", "ev-5"])
    everything = patient_events(feeds.vault, siem, "MRN-1", date(2026, 11, 1), date(2026, 11, 1))
    assert (everything.total, everything.capped) == (5, False)
    backwards = search(feed_client, feeds, "patient=MRN-1&date=ge2026-11-02&date=le2026-11-01")
    assert backwards.status_code == 400 and "date=le is before date=ge" in backwards.text

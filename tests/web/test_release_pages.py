"""The release-of-information desk in the browser: intake (the MRN in the POST body), the queue with
the patient read as the coordinator, the authorization checklist naming each missing element, the
fulfilment and its packet downloaded, a denial and its letter, and the accounting of disclosures
answering a patient's request; every read of the patient or the requester is the coordinator's own."""

from __future__ import annotations

import pytest

from tests.roi.conftest import FAR, populate
from tests.web.desks import assert_download, browser, events_since, log_size, post

AUTHORIZATION = {"kind": "authorization", "covers_general": "on", "description": "labs and conditions of 2026",
                 "disclosing_party": "General Hospital HIM", "recipient": "Acme Life Insurance, 1 Policy Way",
                 "purpose": "at the request of the individual", "expires_on": FAR, "signature": "Zoë Müller",
                 "signed_on": "2026-10-01", "statement_revocation": "on", "statement_conditioning": "on",
                 "statement_redisclosure": "on"}


@pytest.fixture
def desk(web_vault, new_client, staff, clock):
    populate(web_vault)
    return browser(new_client, staff, clock, "roi_coordinator")


def intake(desk, **fields):
    done = post(desk, "/roi", "/roi/requests", **{"requester_address": "1 Policy Way", **fields})
    assert done.status_code == 303, done.text
    return done.headers["location"]


def test_intake_checklist_fulfil_and_the_packet(desk, web_vault):
    page = desk.get("/roi")
    assert page.status_code == 200 and "No open request." in page.text
    where = intake(desk, mrn="P-1", requester_type="third_party", requester_name="Acme Life Insurance")
    assert where == "/roi/requests/1"
    queue = desk.get("/roi").text
    assert "Müller, Zoë" in queue and "P-1" in queue and 'href="/roi/requests/1"' in queue and "1 open" in queue

    before = log_size(web_vault)
    page = desk.get(where).text
    assert "Acme Life Insurance" in page and "1 Policy Way" in page and "MRN P-1" in page
    reads = events_since(web_vault, before)
    assert {(e.user_id, e.role, e.purpose, e.outcome) for e in reads} == {
        ("roi_coordinator", "roi_coordinator", "PATRQT", "success")}  # third party: at the patient's request
    assert {e.detail for e in reads} == {"requester read for the coordinator's desk", "MRN for a report",
                                         "patient name for a report"}

    assert post(desk, where, f"{where}/review").status_code == 303
    refused = post(desk, where, f"{where}/fulfil")
    assert refused.status_code == 400 and "cannot be fulfilled" in refused.text

    lacking = {k: v for k, v in AUTHORIZATION.items() if k not in ("purpose", "statement_redisclosure")}
    refused = post(desk, where, f"{where}/permission", **lacking)
    assert refused.status_code == 400 and "2 element(s) missing or wrong" in refused.text
    assert "<strong>purpose</strong>" in refused.text and "164.508(c)(1)(iv)" in refused.text
    assert "<strong>statement redisclosure</strong>" in refused.text and "164.508(c)(2)(iii)" in refused.text
    assert 'value="labs and conditions of 2026"' in refused.text  # the form comes back as typed
    assert "Permissions on file</h2>\n<p>None.</p>" in refused.text  # nothing recorded

    assert post(desk, where, f"{where}/permission", **AUTHORIZATION).status_code == 303
    assert post(desk, where, f"{where}/fulfil").status_code == 303
    page = desk.get(where).text
    assert "fulfilled" in page and f'href="{where}/files/release-packet.pdf"' in page
    before = log_size(web_vault)
    pdf = assert_download(desk.get(f"{where}/files/release-packet.pdf"), "request-1-release-packet.pdf",
                          "application/pdf")
    assert pdf.startswith(b"%PDF")
    html = assert_download(desk.get(f"{where}/files/release-packet.html"), "request-1-release-packet.html", "text/html")
    assert "Acme Life Insurance" in html.decode()
    downloads = [e for e in events_since(web_vault, before) if e.detail.endswith("downloaded from the request's folder")]
    assert [(e.user_id, e.record_id, e.purpose) for e in downloads] == [("roi_coordinator", "1", "PATRQT")] * 2
    assert post(desk, where, f"{where}/close").status_code == 303
    assert "No open request." in desk.get("/roi").text
    folder = web_vault.home / "roi" / "1"
    assert folder.stat().st_mode & 0o777 == 0o700 and all(f.stat().st_mode & 0o777 == 0o600 for f in folder.iterdir())


def test_a_denial_and_its_letter(desk):
    where = intake(desk, mrn="P-2", requester_type="patient", requester_name="Ann Lee")
    done = post(desk, where, f"{where}/deny", basis="psychotherapy_notes", contact="Privacy Office, 1 Main St")
    assert done.status_code == 303
    page = desk.get(where).text
    assert "denied" in page and "release-packet" not in page
    letter = assert_download(desk.get(f"{where}/files/denial-letter.html"), "request-1-denial-letter.html", "text/html")
    assert "Privacy Office, 1 Main St" in letter.decode() and "164.524(a)(1)(i)" in letter.decode()
    assert desk.get(f"{where}/files/release-packet.pdf").status_code == 404


def test_the_accounting_of_disclosures_answers_the_patients_request(desk):
    health = intake(desk, mrn="P-1", requester_type="public_health", requester_name="State Health Dept",
                    types="lab")
    post(desk, health, f"{health}/review")
    assert post(desk, health, f"{health}/fulfil").status_code == 303
    asked = intake(desk, mrn="P-1", requester_type="patient", requester_name="Zoë Müller", accounting="on")
    refused = post(desk, asked, f"{asked}/accounting")
    assert refused.status_code == 400 and "start the review first" in refused.text
    post(desk, asked, f"{asked}/review")
    assert post(desk, asked, f"{asked}/accounting").status_code == 303
    page = desk.get(asked).text
    assert "fulfilled" in page and f'href="{asked}/files/accounting.pdf"' in page
    accounting = assert_download(desk.get(f"{asked}/files/accounting.html"), "request-2-accounting.html", "text/html")
    assert "State Health Dept" in accounting.decode()


def test_a_refused_intake_says_why_and_names_no_mrn(desk):
    refused = post(desk, "/roi", "/roi/requests", mrn="NOPE-404", requester_type="patient", requester_name="X",
                   requester_address="Y")
    assert refused.status_code == 400 and "no patient with that MRN" in refused.text
    assert refused.text.count("NOPE-404") == 1 and 'value="NOPE-404"' in refused.text  # only in the form, as typed
    refused = post(desk, "/roi", "/roi/requests", mrn="P-1", requester_type="patient", requester_name="",
                   requester_address="Y")
    assert refused.status_code == 400 and "give the requester&#39;s name" in refused.text


def test_other_roles_see_no_request(desk, web_vault, new_client, staff, clock):
    intake(desk, mrn="P-1", requester_type="patient", requester_name="Zoë Müller")
    for role in ("privacy_officer", "investigator", "records_manager", "viewer", "admin"):
        other = browser(new_client, staff, clock, role)
        assert other.get("/roi/requests/1").status_code == 403
        assert other.get("/roi").status_code == 403

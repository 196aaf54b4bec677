"""A release of information in a browser, as a coordinator does it: the intake form (the MRN typed
into a POST form: the harness fails the test if it ever shows in a URL or a log line), the review, an
authorization missing two of its required elements, each named on the page with its citation
(45 CFR 164.508(c)) and nothing recorded, the authorization completed and recorded, the fulfilment,
and the release packet downloaded: a PDF, the same bytes the request's folder keeps."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from auditor.review.patient_access import patient_access_report
from auditor.review.release_desk import kept_file, request_view
from auditor.vault.gateway.context import AccessContext
from tests.browser.axe import assert_accessible

ROLE = "roi_coordinator"
# the authorization's elements and statements as the form labels them: "<text> (<citation>)"
FILLED = {"A specific and meaningful description": "laboratory results of 2026",
          "The person or class of persons authorized to make": "General Hospital HIM",
          "The person or class of persons to whom": "Acme Life Insurance, 1 Policy Way",
          "Expiration date": "2099-12-31",
          "The signature of the individual": "the patient's signature",
          "The date of the signature": "2026-11-20"}
PURPOSE = "A description of each purpose"
STATED = ("the right to revoke in writing and how", "whether treatment, payment, enrollment")
REDISCLOSURE = "that the information may be redisclosed by the recipient"


def _as_coordinator(office):
    return lambda purpose: AccessContext.of_staff(office.staff[ROLE].user, ROLE, purpose, workstation="test check")


@pytest.mark.parametrize("role", [ROLE])
def test_a_coordinator_takes_a_request_from_intake_to_the_packet(page, office, role):
    mrn = next(m for m in sorted(office.phi.mrns) if patient_access_report(office.vault, m).accesses)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Release of information").click()
    expect(page.get_by_text("No open request.")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("The patient's MRN").fill(mrn)
    page.get_by_label("Who asks").select_option("third_party")
    page.get_by_label("The requester's name").fill("Acme Life Insurance")
    page.get_by_label("Where the records go").fill("1 Policy Way, Hartford")
    page.get_by_role("button", name="Log the request").click()
    expect(page).to_have_url(re.compile(r"/roi/requests/\d+$"))
    request_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Request {request_id}")
    assert_accessible(page)

    page.get_by_role("button", name="Start the review").click()
    expect(page.get_by_role("definition").first).to_have_text("in review")
    authorization = page.locator("details", has=page.locator("summary", has_text="(45 CFR 164.508(c))"))
    authorization.locator("summary").click()
    for label, text in FILLED.items():
        authorization.get_by_label(label).fill(text)
    for label in STATED:
        authorization.get_by_label(label).check()
    assert_accessible(page)
    authorization.get_by_role("button", name="Check and record").click()  # no purpose, no redisclosure statement

    expect(page.get_by_role("alert")).to_contain_text("2 element(s) missing or wrong")
    missing = page.get_by_role("region", name="What the permission misses")
    expect(missing.get_by_role("listitem")).to_have_count(2)
    expect(missing).to_contain_text("164.508(c)(1)(iv)")  # the purpose
    expect(missing).to_contain_text("164.508(c)(2)(iii)")  # the redisclosure statement
    assert not request_view(office.vault, request_id, _as_coordinator(office)).file.permissions  # nothing recorded
    assert_accessible(page)

    authorization = page.locator("details[open]")  # the form comes back open, as typed
    expect(authorization.get_by_label(next(iter(FILLED)))).to_have_value("laboratory results of 2026")
    authorization.get_by_label(PURPOSE).fill("at the request of the individual")
    authorization.get_by_label(REDISCLOSURE).check()
    authorization.get_by_role("button", name="Check and record").click()
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_role("heading", name="Fulfil")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("button", name="Fulfil and make the packet").click()
    packet = page.get_by_role("link", name="release-packet.pdf")
    expect(packet).to_be_visible()
    assert_accessible(page)
    with page.expect_download() as download:
        packet.click()
    assert download.value.suggested_filename == f"request-{request_id}-release-packet.pdf"
    with open(download.value.path(), "rb") as f:
        got = f.read()
    assert got.startswith(b"%PDF")

    kept = request_view(office.vault, request_id, _as_coordinator(office))
    assert kept.file.heading.status == "fulfilled" and kept.mrn == mrn
    assert [p.kind for p in kept.file.permissions] == ["authorization"]
    assert got == kept_file(office.vault, request_id, "release-packet.pdf", _as_coordinator(office))[0]

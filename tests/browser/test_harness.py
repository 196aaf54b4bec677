"""The harness's own checks can fail: a URL holding an MRN that the browser asked for, and a server
log line naming a patient, are found (every browser test ends with this search), and the server
answers on loopback with the security headers."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from tests.web.test_headers import assert_secure_headers


def test_a_patient_in_a_url_or_a_log_line_is_found(context, office):
    mrn, name = sorted(office.phi.mrns)[0], sorted(office.phi.full_names)[0]
    page = context.new_page()
    response = page.goto(f"/login?mrn={mrn}")
    assert response.status == 200 and office.url.startswith("http://127.0.0.1:")
    logging.getLogger("auditor.web").info("looked up %s", name)  # as a careless page might log
    found = dict(office.leaks())
    assert any(mrn in hits for hits in found.values()), found
    assert found[f"auditor.web: looked up {name}"] == [name]
    office.requested.clear()  # caught here; the test's end would fail on them otherwise
    office.log.lines.clear()


def test_the_served_app_sends_its_headers(context, office):
    page = context.new_page()
    response = page.goto("/login")
    assert_secure_headers(SimpleNamespace(headers=response.all_headers()))
    assert any('"GET /login" 200' in line for line in office.log.lines)

"""No PHI in any URL or log line: the app's links and forms carry no query string, account changes
travel in POST bodies, and the access log names the route's pattern, never the path as typed or its
query string (an MRN typed into the address bar does not reach the log)."""

from __future__ import annotations

import logging
import re

from tests.web.conftest import csrf_of, sign_in

TYPED = ("MRN-00042", "Zo%C3%AB%20M%C3%BCller", "Zoë Müller", "1970-03-04")


def test_links_and_forms_carry_nothing_in_their_urls(client, staff, clock):
    sign_in(client, staff["admin"], clock)
    seen, queue = set(), ["/", "/accounts", "/login"]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        html = client.get(path).text
        urls = [u for u in re.findall(r'(?:href|action|src)="([^"]*)"', html) if u != "data:,"]  # the empty icon
        assert urls and all("?" not in u and "#" not in u and u.startswith("/") for u in urls), (path, urls)
        assert all(re.fullmatch(r"/[a-z/._-]*", u) for u in urls), urls
        queue += [u for u in re.findall(r'href="([^"]*)"', html) if u.startswith("/") and not u.startswith("/static/")]
    assert seen >= {"/", "/accounts", "/login"}


def test_the_access_log_names_routes_not_what_was_typed(client, staff, clock, caplog):
    caplog.set_level(logging.INFO, logger="auditor.web.access")
    sign_in(client, staff["admin"], clock)
    client.get("/accounts?mrn=MRN-00042&name=Zo%C3%AB%20M%C3%BCller&dob=1970-03-04")
    client.get("/patients/MRN-00042/Zo%C3%AB%20M%C3%BCller")
    client.get("/static/MRN-00042.js")
    csrf = csrf_of(client.get("/accounts").text)
    client.post("/accounts/add", data={"user": "zoe", "name": "Zoë Müller", "role_viewer": "on",
                                       "password": "plum-sky-77", "csrf_token": csrf})
    lines = [r.getMessage() for r in caplog.records if r.name == "auditor.web.access"]
    assert any('"GET /accounts" 200' in line for line in lines)
    assert any('"GET (no such page)" 404' in line for line in lines)
    assert any('"GET /static/{name}" 404' in line for line in lines)
    assert any('"POST /accounts/add" 200' in line for line in lines)
    for line in lines:
        assert not any(t in line for t in TYPED) and "?" not in line, line
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(t in everything for t in TYPED)

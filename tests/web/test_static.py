"""The static files come from the package (no CDN): the reports' stylesheet, the app's, and htmx as
the npm package htmx.org@2.0.11 ships it, with its licence and provenance beside it."""

from __future__ import annotations

import hashlib
from importlib.resources import files

from auditor.resources import REPORTS_DIR

HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"


def test_htmx_is_the_npm_file_named_in_its_provenance_with_its_licence():
    static = files("auditor.web") / "static"
    assert hashlib.sha256(static.joinpath("htmx.min.js").read_bytes()).hexdigest() == HTMX_SHA256
    provenance = static.joinpath("PROVENANCE.md").read_text()
    assert "htmx.org@2.0.11" in provenance and HTMX_SHA256 in provenance
    assert "Zero-Clause BSD" in static.joinpath("htmx.LICENSE.txt").read_text()


def test_the_app_serves_the_reports_stylesheet_and_htmx_and_nothing_else(client):
    css = client.get("/static/report.css")
    assert css.content == (REPORTS_DIR / "report.css").read_bytes() and css.headers["content-type"].startswith("text/css")
    js = client.get("/static/htmx.min.js")
    assert hashlib.sha256(js.content).hexdigest() == HTMX_SHA256 and js.headers["content-type"].startswith("text/javascript")
    for name in ("PROVENANCE.md", "..%2F..%2Fkeyring.json", "layout.html", "%2e%2e"):
        assert client.get(f"/static/{name}").status_code == 404

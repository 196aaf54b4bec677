"""report.html in a real browser: Debian's Chromium, headless, driven by Playwright. The report must
load with no console error, fetch nothing from the network, and draw its charts."""

from __future__ import annotations

import pytest


@pytest.fixture
def page(browser):
    """A page of the session's Chromium (tests/conftest.py), closed after the test."""
    opened = browser.new_page()
    yield opened
    opened.close()


def test_report_loads_without_errors_and_draws_its_charts(page, run, month_home, tmp_path):
    code, _, err = run("report", "monthly", "--month", "2026-11", "--out", tmp_path / "out", "--no-pdf")
    assert code == 0, err
    problems, requests = [], []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto((tmp_path / "out" / "report.html").as_uri())
    page.wait_for_load_state("load")
    assert problems == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    charts = page.eval_on_selector_all(
        "svg.chart", "els => els.map(e => ({w: e.getBoundingClientRect().width,"
                     " bars: [...e.querySelectorAll('rect[data-value]')].filter(r => r.getBBox().height > 0"
                     " || r.getBBox().width > 0).length}))")
    assert len(charts) == 3  # findings trend, accesses trend, findings by rule
    assert all(c["w"] > 200 and c["bars"] > 0 for c in charts)
    assert page.title().startswith("Monthly privacy audit report")

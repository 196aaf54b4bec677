"""axe-core in the browser tests: `assert_accessible(page)` runs axe-core 4.14.1 (vendored in
tests/fixtures/axe-core, see its PROVENANCE.md) on the page as it is and fails on any violation of
serious or critical impact, listing each with the elements it found.

The app's Content-Security-Policy allows scripts from the app's own origin only, and the tests keep
it on (a page that needs an inline script must fail here too). So axe is loaded as a script of the
app's origin at AXE_PATH, a path the app does not serve: Playwright's routing answers it from the
vendored file inside the browser (`route_axe`, set on every test's browser context)."""

from __future__ import annotations

import hashlib
from pathlib import Path

AXE = Path(__file__).resolve().parents[1] / "fixtures" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
AXE_PATH = "/__tests__/axe-core/axe.min.js"
BLOCKING = ("serious", "critical")
# WCAG 2.0, 2.1 and 2.2 A and AA, and axe's best practices: what a public body's site is held to
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      nodes: v.nodes.map(n => n.target.join(' '))}));
}"""


def route_axe(context, base_url: str) -> None:
    """Answer AXE_PATH on the app's origin with the vendored axe-core, inside the browser."""
    body = AXE.read_bytes()
    if hashlib.sha256(body).hexdigest() != AXE_SHA256:
        raise AssertionError(f"{AXE} is not the axe-core file its PROVENANCE.md names")
    context.route(base_url + AXE_PATH, lambda route: route.fulfill(body=body, content_type="text/javascript"))


def violations(page) -> list[dict]:
    """axe-core's violations on the page now (every impact)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(url=AXE_PATH)
    return page.evaluate(_RUN, TAGS)


def assert_accessible(page) -> None:
    """Fail on any serious or critical violation on the page as it is now (run it after each state a
    flow reaches: a form with its errors shown, a dialog open)."""
    blocking = [v for v in violations(page) if v["impact"] in BLOCKING]
    assert not blocking, f"axe-core: {len(blocking)} serious or critical violation(s) on {page.url}:\n" + "\n".join(
        f"  {v['impact']} {v['id']}: {v['help']} ({'; '.join(v['nodes'][:5])})" for v in blocking)

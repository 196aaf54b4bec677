"""A crawler of the web app, generic over its pages: from the pages a role starts at it follows every
link (<a href>) and submits every GET form with the values its fields hold, as a person clicking
through would, and records each response and every URL the pages name (links, form actions, scripts,
stylesheets). A new page is crawled as soon as a page links to it; no list of pages to keep up.

Pages of one route (/cases/{case_id}) are visited a few times, not once per case."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Callable
from urllib.parse import urlencode, urljoin, urlsplit

from starlette.routing import Route

PER_ROUTE = 3  # pages visited per route pattern
LIMIT = 300  # pages visited in all, per crawl


@dataclass
class Form:
    method: str
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)


class _Links(HTMLParser):
    """The URLs a page names and its forms, with each field's value as the page sets it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []  # <a href>: to follow
        self.named: list[str] = []  # every URL in an attribute (href, src, action, formaction)
        self.forms: list[Form] = []
        self._form: Form | None = None  # the form open at this point of the page
        self._select: str | None = None
        self._selected: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.named += [a[k] for k in ("href", "src", "action", "formaction") if k in a]
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        elif tag == "form":
            self._form = Form(a.get("method", "get").lower(), a.get("action", ""))
            self.forms.append(self._form)
        elif self._form and tag in ("input", "button") and a.get("name"):
            kind = a.get("type", "text" if tag == "input" else "submit").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "image", "reset", "file"):
                self._form.fields.append((a["name"], a.get("value", "on" if kind in ("checkbox", "radio") else "")))
        elif self._form and tag == "select" and a.get("name"):
            self._select, self._selected = a["name"], None
        elif self._select and tag == "option" and (self._selected is None or "selected" in a):
            self._selected = a.get("value", "")
        elif self._form and tag == "textarea" and a.get("name"):
            self._form.fields.append((a["name"], ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select and self._form:
            self._form.fields.append((self._select, self._selected or ""))
            self._select = None
        elif tag == "form":
            self._form = None


@dataclass(frozen=True)
class Visit:
    url: str  # path and query string, as requested
    route: str | None  # the route's pattern ("/cases/{case_id}"); None: no such page
    status: int
    headers: dict[str, str]  # names in lower case
    came_from: str


@dataclass
class Crawl:
    visits: list[Visit] = field(default_factory=list)
    named: list[tuple[str, str]] = field(default_factory=list)  # (page, a URL it names)

    def routes(self) -> set[str]:
        return {v.route for v in self.visits if v.route}


def route_of(app, path: str) -> str | None:
    for r in app.routes:
        if isinstance(r, Route) and r.path_regex.match(path):
            return r.path
    return None


def crawl(app, get: Callable[[str], object], start: list[str], *, per_route: int = PER_ROUTE,
          limit: int = LIMIT) -> Crawl:
    """Crawl from `start` with `get(url) -> response` (a signed-in client's GET, redirects not
    followed: a redirect's target is crawled as a link of its own)."""
    done, seen, queue = Crawl(), set(), [(url, "(start)") for url in start]
    per = Counter()
    while queue and len(done.visits) < limit:
        url, came_from = queue.pop(0)
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or url in seen:
            continue  # another site is never fetched (and should never be named: the tests say so)
        route = route_of(app, parts.path)
        if per[route] >= per_route:
            continue
        seen.add(url)
        per[route] += 1
        response = get(url)
        done.visits.append(Visit(url, route, response.status_code, {k.lower(): v for k, v in response.headers.items()},
                                 came_from))
        if response.status_code in (301, 302, 303, 307, 308):
            queue.append((urljoin(url, response.headers["location"]), url))
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        page = _Links()
        page.feed(response.text)
        done.named += [(url, u) for u in page.named]
        queue += [(urljoin(url, u), url) for u in page.links if not u.startswith(("#", "data:", "mailto:"))]
        for form in page.forms:
            if form.method == "get":
                action = urljoin(url, form.action or parts.path)
                query = urlencode(form.fields)
                queue.append((f"{action}?{query}" if query else action, url))
    return done

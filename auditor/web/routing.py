"""How a page is declared and served: its path, the roles that may open it (no roles, no page: default
deny), and a handler that receives a View (the signed-in account, the form, the renderer).

Before a handler runs, the session is resolved (none, or one that ended: a redirect to the login page),
the account's roles are checked (403), and on a POST the form's CSRF token is checked (403). Handlers
are plain functions run in a worker thread: they may call the gateway, which blocks."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from auditor.errors import AuditorError, NotFound, NotPermitted, SignInRequired
from auditor.staff.roles import EVERY_ROLE
from auditor.staff.sessions import SignedIn
from auditor.vault.gateway.context import AccessContext

if TYPE_CHECKING:  # pragma: no cover
    from auditor.web.app import Office

log = logging.getLogger("auditor.web")
CSRF_FIELD = "csrf_token"
MAX_FIELDS = 64


@dataclass(frozen=True)
class Page:
    """One route of the app. `roles`: the staff roles that may open it; `public`: the login pages only.
    `title`: its name in the navigation (None: not listed)."""

    path: str
    name: str
    handler: Callable[["View"], Response]
    roles: frozenset[str] = frozenset()
    methods: tuple[str, ...] = ("GET",)
    public: bool = False
    title: str | None = None

    def __post_init__(self) -> None:
        if self.public == bool(self.roles):
            raise ValueError(f"page {self.name}: declare the roles that may open it (or public=True for a login page)")
        if unknown := set(self.roles) - EVERY_ROLE:
            raise ValueError(f"page {self.name}: unknown role(s) {sorted(unknown)}")
        if set(self.methods) - {"GET", "POST"}:
            raise ValueError(f"page {self.name}: GET reads, POST changes; nothing else")

    def allows(self, signed_in: SignedIn | None) -> bool:
        return self.public or (signed_in is not None and signed_in.account.holds(*self.roles))


@dataclass
class View:
    """What a handler gets: the request, the signed-in account (None on a public page), the POSTed
    form (one value per field), and the ways to answer."""

    request: Request
    office: "Office"
    signed_in: SignedIn | None
    form: dict[str, str] = field(default_factory=dict)
    cookies: list[tuple[str, str | None]] = field(default_factory=list)  # set (value) or delete (None)
    login_nonce: str | None = None  # a login form's cookie, set by this response

    @property
    def account(self):
        if self.signed_in is None:
            raise SignInRequired("not signed in")
        return self.signed_in.account

    def access_context(self, purpose: str, reason: str | None = None, role: str | None = None) -> AccessContext:
        """For gateway reads as the signed-in account, in one of its roles, with the page's purpose of use."""
        if self.signed_in is None:
            raise SignInRequired("not signed in")
        return self.signed_in.access_context(purpose, reason, role)

    def csrf_token(self) -> str:
        return self.office.csrf_token(self.request, self.signed_in, self.login_nonce)

    def render(self, template: str, status: int = 200, **values) -> HTMLResponse:
        account = self.signed_in.account if self.signed_in else None
        nav = [(p.title, self.request.url_for(p.name).path, p.name) for p in self.office.pages
               if p.title and "GET" in p.methods and not p.public and p.allows(self.signed_in)]
        html = self.office.templates.get_template(template).render(
            account=account, csrf_token=self.csrf_token(), nav=nav, page=self.request.scope["route"].name, **values)
        return self._with_cookies(HTMLResponse(html, status_code=status))

    def redirect(self, name: str) -> Response:
        """303 See Other to the page `name` (never a path built from input: no open redirect)."""
        return self._with_cookies(RedirectResponse(self.request.url_for(name).path, status_code=303))

    def _with_cookies(self, response: Response) -> Response:
        for name, value in self.cookies:
            self.office.cookie(response, name, value)
        return response


def route(page: Page) -> Route:
    async def endpoint(request: Request) -> Response:
        form: dict[str, str] = {}
        if request.method == "POST":
            parsed = await request.form(max_files=0, max_fields=MAX_FIELDS)
            form = {k: v for k, v in parsed.items() if isinstance(v, str)}
        return await run_in_threadpool(_serve, page, request, form)

    return Route(page.path, endpoint, methods=list(page.methods), name=page.name)


def _serve(page: Page, request: Request, form: dict[str, str]) -> Response:
    office: Office = request.app.state.office
    signed_in = None
    try:
        if not page.public:
            signed_in = office.signed_in(request)
            if signed_in is None:
                return office.to_login(request)
            if not page.allows(signed_in):
                return office.refuse(request, signed_in, 403, "Your role does not open this page.")
        view = View(request, office, signed_in, form)
        if request.method == "POST" and not office.seals.matches(view.csrf_token(), form.get(CSRF_FIELD)):
            return office.refuse(request, signed_in, 403, "This form is out of date or did not come from this site: "
                                                          "open the page again and resend it.")
        return page.handler(view)
    except SignInRequired:
        return office.to_login(request)
    except NotPermitted as exc:
        return office.refuse(request, signed_in, 403, str(exc))
    except NotFound as exc:
        return office.refuse(request, signed_in, 404, str(exc))
    except AuditorError as exc:  # messages name no PHI (auditor.errors)
        return office.refuse(request, signed_in, 400, str(exc))
    except Exception as exc:  # a bug: its type only, as the CLI says it; values may be PHI
        log.error("page %s failed: %s", page.name, type(exc).__name__)
        return office.refuse(request, signed_in, 500, "Something went wrong; the error is in the server's log.")

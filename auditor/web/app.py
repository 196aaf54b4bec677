"""The app factory: `create_app(vault)` is the privacy office's web app over an open vault.

`secure=True` when the app is served behind a TLS proxy (`auditor serve --behind-proxy`): cookies get
Secure and the __Host- prefix, responses carry HSTS. The clock is the vault's unless one is given (a
test gives a FixedClock and moves it: idle logoff without sleeping)."""

from __future__ import annotations

import secrets
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from auditor.cases.settings import load_case_settings
from auditor.clock import Clock
from auditor.policy.rules import load_policy
from auditor.errors import SignInRequired
from auditor.home import Vault
from auditor.reporting.templates import load_site
from auditor.resources import REPORTS_DIR
from auditor.staff.passwords import PasswordHashing
from auditor.staff.seals import StaffSeals, token_hash
from auditor.staff.sessions import SessionPolicy, SignedIn, StaffSessions
from auditor.staff.signin import StaffSignIn
from auditor.web.background import BackgroundWork
from auditor.web.fhir_api import api_route
from auditor.web.routing import Page, route
from auditor.web.security import SecurityHeaders
from auditor.web.templates import STATIC_DIR, environment

SESSION, SIGNING_IN, LOGIN_FORM = "session", "signing_in", "login_form"
# name -> (file, media type): the only files served; nothing is looked up from the path
STATIC = {
    "report.css": (REPORTS_DIR / "report.css", "text/css; charset=utf-8"),
    "web.css": (STATIC_DIR / "web.css", "text/css; charset=utf-8"),
    "htmx.min.js": (STATIC_DIR / "htmx.min.js", "text/javascript; charset=utf-8"),
}


class Office:
    """The app's state: the vault, the staff desks, the templates, and how its cookies are made."""

    def __init__(self, vault: Vault, pages: list[Page], *, secure: bool, clock: Clock | None,
                 hashing: PasswordHashing | None, policy: SessionPolicy | None, site_dir: Path | None = None,
                 site_policies: Path | None = None) -> None:
        self.vault, self.pages, self.secure = vault, pages, secure
        self.clock = clock or vault.clock
        self.sessions = StaffSessions(vault, policy, self.clock)
        self.signin = StaffSignIn(vault, hashing, policy, self.clock)
        self.hashing = self.signin.hashing
        self.seals = StaffSeals(vault.keyring.index_root_key)
        self.templates = environment()
        self.background = BackgroundWork(self.clock)  # the report, the log's verification: one at a time
        # the site's policies (rules, approved explanations, cases.yaml) and its folder (site.yaml, templates),
        # as `auditor serve --site-policies --site` names them: read and linted once, a broken file stops the start
        self.rules = load_policy(site_dir=site_policies)
        self.case_settings = load_case_settings(site_dir=site_policies)
        self.site = load_site(site_dir)

    # -- cookies -------------------------------------------------------------------------------------
    def cookie_name(self, name: str) -> str:
        # __Host-: only over HTTPS, for this host and path / only (RFC 6265bis §4.1.3.2)
        return f"__Host-auditor_{name}" if self.secure else f"auditor_{name}"

    def cookie(self, response: Response, name: str, value: str | None) -> None:
        if value is None:
            response.delete_cookie(self.cookie_name(name), path="/", secure=self.secure, httponly=True,
                                   samesite="strict")
        else:  # a session cookie (no Max-Age): the server ends the session, the browser forgets it on exit
            response.set_cookie(self.cookie_name(name), value, path="/", secure=self.secure, httponly=True,
                                samesite="strict")

    def token(self, request: Request, name: str) -> str | None:
        return request.cookies.get(self.cookie_name(name))

    # -- sessions and forms ---------------------------------------------------------------------------
    def signed_in(self, request: Request) -> SignedIn | None:
        try:
            return self.sessions.resolve(self.token(request, SESSION), "web")
        except SignInRequired:
            return None

    def csrf_token(self, request: Request, signed_in: SignedIn | None, nonce: str | None = None) -> str:
        """The form token: of the session when signed in, else of the login form's own cookie."""
        if signed_in is not None:
            return self.seals.csrf_token(signed_in.token_hash)
        nonce = nonce or self.token(request, LOGIN_FORM)
        return self.seals.csrf_token(token_hash(nonce)) if nonce else ""

    def to_login(self, request: Request) -> Response:
        response = RedirectResponse(request.url_for("login").path, status_code=303)
        if self.token(request, SESSION):
            self.cookie(response, SESSION, None)
        return response

    def refuse(self, request: Request, signed_in: SignedIn | None, status: int, message: str) -> Response:
        html = self.templates.get_template("error.html").render(
            account=signed_in.account if signed_in else None, csrf_token=self.csrf_token(request, signed_in),
            nav=[], page="error", status=status, message=message)
        return Response(html, status_code=status, media_type="text/html")


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def _static(request: Request) -> Response:
    found = STATIC.get(request.path_params["name"])
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(found[0], media_type=found[1])


@asynccontextmanager
async def _lifespan(app: Starlette):
    yield
    app.state.office.background.close()  # before the caller closes the vault: the work it runs ends first


def create_app(vault: Vault, *, secure: bool = False, clock: Clock | None = None,
               hashing: PasswordHashing | None = None, policy: SessionPolicy | None = None,
               pages: list[Page] | None = None, site_dir: Path | None = None,
               site_policies: Path | None = None) -> Starlette:
    """The web app over `vault` (open; the caller closes it). `pages`: the routes (auditor.web.routes);
    `site_policies`, `site_dir`: the site's policy folder and site folder, as the CLI takes them."""
    from auditor.web.routes import API, PAGES

    pages = list(PAGES if pages is None else pages)
    routes = ([route(p) for p in pages] + [api_route(a) for a in API]
              + [Route("/static/{name}", _static, methods=["GET"], name="static")])
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders, secure=secure)], lifespan=_lifespan)
    app.state.office = Office(vault, pages, secure=secure, clock=clock, hashing=hashing, policy=policy,
                              site_dir=site_dir, site_policies=site_policies)
    return app

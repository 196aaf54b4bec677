"""Signing in and out: the password, then the TOTP code (auditor.staff.signin), each step a new
server-side token (a session id set before sign-in is never the one after it: no fixation)."""

from __future__ import annotations

from starlette.responses import Response

from auditor.errors import SignInRefused, SignInRequired
from auditor.web.app import LOGIN_FORM, SESSION, SIGNING_IN, new_nonce
from auditor.web.routing import View


def login_form(view: View) -> Response:
    """The password form. Its CSRF token comes from a cookie of its own: a login form posted from
    another site (to sign someone in as the attacker) is refused."""
    if not view.office.token(view.request, LOGIN_FORM):
        view.login_nonce = new_nonce()
        view.cookies.append((LOGIN_FORM, view.login_nonce))
    return view.render("login.html", message=None)


def login_password(view: View) -> Response:
    try:
        pending = view.office.signin.password(view.form.get("user", ""), view.form.get("password", ""), "web")
    except SignInRefused as exc:
        return view.render("login.html", status=401, message=str(exc))
    view.cookies.append((SIGNING_IN, pending.token))
    return view.redirect("login_code")


def code_form(view: View) -> Response:
    if not view.office.token(view.request, SIGNING_IN):
        return view.redirect("login")
    return view.render("login_code.html", message=None)


def login_code(view: View) -> Response:
    try:
        session = view.office.signin.code(view.office.token(view.request, SIGNING_IN), view.form.get("code", ""), "web")
    except SignInRequired as exc:
        view.cookies.append((SIGNING_IN, None))
        return view.render("login.html", status=401, message=str(exc))
    except SignInRefused as exc:
        return view.render("login_code.html", status=401, message=str(exc))
    view.cookies += [(SIGNING_IN, None), (SESSION, session.token)]
    return view.redirect("home")


def logout(view: View) -> Response:
    view.office.sessions.sign_out(view.office.token(view.request, SESSION), "web")
    view.cookies.append((SESSION, None))
    return view.redirect("login")

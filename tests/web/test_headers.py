"""The security headers on every response (pages, redirects, refusals, errors, static files), no-store
on every page, and cookies that scripts cannot read and other sites cannot send."""

from __future__ import annotations

from starlette.testclient import TestClient

from auditor.web.app import create_app
from tests.web.conftest import csrf_of, sign_in

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def assert_secure_headers(response, static: bool = False) -> None:
    h = response.headers
    assert h["content-security-policy"] == CSP and "unsafe-inline" not in CSP
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-frame-options"] == "DENY"
    assert h["cache-control"] == ("public, max-age=300" if static else "no-store")


def test_every_response_carries_the_headers(client, staff, clock):
    seen = [client.get("/"), client.get("/login"), client.get("/login/code"), client.get("/no-such-page?mrn=MRN-1"),
            client.post("/login", data={"user": "x", "password": "y"}), client.put("/login")]
    sign_in(client, staff["viewer"], clock)
    csrf = csrf_of(client.get("/").text)
    seen += [client.get("/"), client.get("/accounts"), client.post("/accounts/add", data={"csrf_token": csrf}),
             client.post("/logout", data={"csrf_token": "wrong"})]
    assert sorted({r.status_code for r in seen}) == [200, 303, 403, 404, 405]
    for response in seen:
        assert_secure_headers(response)
    for name in ("report.css", "web.css", "htmx.min.js"):
        assert_secure_headers(client.get(f"/static/{name}"), static=True)
    assert_secure_headers(client.get("/static/../../keyring.json"))


def test_pages_have_no_inline_script_or_style(client, staff, clock):
    sign_in(client, staff["admin"], clock)
    for path in ("/login", "/", "/accounts"):
        html = client.get(path).text.lower()
        assert "<style" not in html and " style=" not in html and " on" + "click=" not in html
        assert html.count("<script") == html.count('<script src="/static/htmx.min.js" defer></script>') == 1


def test_cookies_are_httponly_and_samesite_strict(new_client, staff, clock):
    browser = new_client()
    cookies = [browser.get("/login").headers["set-cookie"]]
    sign_in(browser, staff["viewer"], clock)
    for cookie in cookies + [c for c in browser.cookies.jar]:
        if isinstance(cookie, str):
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
        else:
            assert cookie.has_nonstandard_attr("HttpOnly") and cookie.get_nonstandard_attr("SameSite") == "strict"


def test_behind_a_tls_proxy_cookies_are_secure_host_cookies_and_hsts_is_sent(web_vault, staff, clock):
    with TestClient(create_app(web_vault, clock=clock, secure=True), base_url="https://testserver",
                    follow_redirects=False) as browser:
        form = browser.get("/login")
        assert form.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
        cookie = form.headers["set-cookie"]
        assert cookie.startswith("__Host-auditor_login_form=") and "Secure" in cookie and "Path=/" in cookie
        assert "Domain" not in cookie
        done = browser.post("/login", data={"user": "viewer", "password": staff["viewer"].password,
                                            "csrf_token": csrf_of(form.text)})
        assert done.headers["location"] == "/login/code" and "__Host-auditor_signing_in=" in done.headers["set-cookie"]

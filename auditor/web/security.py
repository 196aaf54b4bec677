"""What every response carries, and what the server's log may say.

Headers (OWASP Secure Headers): a Content-Security-Policy that allows scripts and styles from this
server only (no inline script: the pages have none, htmx is configured by a meta tag), no framing,
no MIME sniffing, no Referer (a URL never leaves for another site), and `Cache-Control: no-store` on
every page (a page may show PHI: neither the browser nor a proxy keeps a copy). Behind TLS, HSTS.

The access log names the route's pattern ("/accounts"), never the path as requested or its query
string: whatever someone types into the address bar (an MRN, a name) does not reach a log line."""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
STATIC_PREFIX = "/static/"
access_log = logging.getLogger("auditor.web.access")


class SecurityHeaders:
    """ASGI middleware: the headers above on every response, errors and redirects included."""

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(STATIC_PREFIX)
        started = time.monotonic()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                headers["Cache-Control"] = "public, max-age=300" if static and status == 200 else "no-store"
                if self.secure:
                    headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            access_log.info('%s "%s %s" %d %.0fms', _client(scope), scope["method"],
                            getattr(route, "path", None) or "(no such page)", status,
                            1000 * (time.monotonic() - started))


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "-"

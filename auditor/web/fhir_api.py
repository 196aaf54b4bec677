"""How an endpoint of the FHIR API is declared and served: for system accounts (auditor.staff.feeds),
never for a browser. The credential is a bearer token in the Authorization header, or, when the app
serves TLS itself with --client-ca, a client certificate the handshake verified and an admin
registered with the account (`auditor feeds add --certificate`); cookies are not read at all, so a staff member's session cannot authorise a call and a page of another site
cannot make the browser send one: there is nothing for CSRF to ride on, and the pages' CSRF check
(auditor.web.routing) stays as it is for every page. Default deny: an endpoint names the scope a
token must hold (feed or search), or cannot be declared.

Before a handler runs: the token (401, the same for a forged, revoked or tampered one), the scope
(403), the body's size (413, read no further than the limit) and media type (415). Handlers run in
a worker thread and answer FHIR JSON; a failure answers an OperationOutcome that quotes no value
of the request, and the log names its type only."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from auditor.errors import AuditorError, InputError, NotFound, SignInRequired
from auditor.staff.feeds import SCOPES, FeedAccount, FeedAccounts

if TYPE_CHECKING:  # pragma: no cover
    from auditor.web.app import Office

log = logging.getLogger("auditor.web")
FHIR_JSON = "application/fhir+json"
MAX_BODY = 1 << 20  # a single AuditEvent is a few kilobytes


@dataclass(frozen=True)
class Api:
    """One endpoint. `scope`: what the caller's token must hold; `media`: the body's media types
    (POST); `max_body`: its size limit in bytes."""

    path: str
    name: str
    handler: Callable[["ApiCall"], Response]
    scope: str
    methods: tuple[str, ...] = ("POST",)
    media: tuple[str, ...] = (FHIR_JSON, "application/json")
    max_body: int = MAX_BODY

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"endpoint {self.name}: declare the scope a token must hold ({', '.join(SCOPES)})")
        if set(self.methods) - {"GET", "POST"}:
            raise ValueError(f"endpoint {self.name}: GET reads, POST sends; nothing else")


@dataclass(frozen=True)
class ApiCall:
    """What a handler gets: the request (its query string is never logged), the office, the system
    account that called, and the body as read."""

    request: Request
    office: "Office"
    account: FeedAccount
    body: bytes


def outcome(status: int, diagnostics: str, code: str = "processing", severity: str = "error",
            headers: dict | None = None) -> Response:
    """An OperationOutcome (FHIR R4) as the whole answer."""
    return fhir_json({"resourceType": "OperationOutcome",
                      "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}]}, status, headers)


def fhir_json(resource: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(resource), status_code=status, media_type=FHIR_JSON, headers=headers)


def client_certificate(scope: dict) -> bytes | None:
    """The DER of the client certificate the TLS handshake verified (the ASGI TLS extension's
    client_cert_chain, its first certificate; `auditor serve --client-ca` puts it there), or None. No
    header is ever read for it: a certificate only the handshake checked counts."""
    chain = scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
    if not chain:
        return None
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(chain[0].encode("ascii")).public_bytes(Encoding.DER)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def _body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is over `limit` bytes (read no further than that)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            return None
        parts.append(part)
    return b"".join(parts)


def api_route(api: Api) -> Route:
    async def endpoint(request: Request) -> Response:
        office: Office = request.app.state.office
        token, certificate = _bearer(request), client_certificate(request.scope)
        accounts = FeedAccounts(office.vault)
        try:
            if token is None and certificate is not None:  # the token first: a sender that gives one means it
                account = await run_in_threadpool(accounts.authenticate_certificate, certificate)
            else:
                account = await run_in_threadpool(accounts.authenticate, token)
        except SignInRequired as refused:
            return outcome(401, str(refused), "login", headers={"WWW-Authenticate": 'Bearer realm="auditor"'})
        if not account.holds(api.scope):
            return outcome(403, f"this account's scope does not include {api.scope}", "forbidden")
        body = b""
        if request.method == "POST":
            media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
            if media not in api.media:
                return outcome(415, f"send the body as {' or '.join(api.media)}", "not-supported")
            try:
                read = await _body(request, api.max_body)
            except ClientDisconnect:
                return outcome(400, "the request ended before its body", "incomplete")
            if read is None:
                return outcome(413, f"a body over {api.max_body:,} bytes is not read", "too-costly")
            body = read
        return await run_in_threadpool(_serve, api, ApiCall(request, office, account, body))

    return Route(api.path, endpoint, methods=list(api.methods), name=api.name)


def _serve(api: Api, call: ApiCall) -> Response:
    try:
        return api.handler(call)
    except NotFound as exc:
        return outcome(404, str(exc), "not-found")
    except InputError as exc:  # messages name no PHI (auditor.errors)
        return outcome(400, str(exc), "invalid")
    except AuditorError as exc:  # the database or the log refused: nothing of the request was kept
        log.error("endpoint %s failed: %s", api.name, type(exc).__name__)
        return outcome(503, f"not written: {type(exc).__name__}; send it again later", "transient")
    except Exception as exc:  # a bug: its type only; values may be PHI
        log.error("endpoint %s failed: %s", api.name, type(exc).__name__)
        return outcome(500, "not written: something went wrong; the error is in the server's log", "exception")

"""System accounts of the FHIR endpoint: an EHR, an integration engine or a SIEM that sends AuditEvents
(scope `feed`) or searches a patient's (scope `search`), authenticated by a bearer token, or by a
client certificate registered with the account when the app serves TLS itself (`auditor serve
--tls-cert --client-ca`).

An admin adds one (`auditor feeds add NAME --scope feed`): the token is shown once and only its
SHA-256 is stored, with an HMAC of the whole row (auditor.staff.seals); the row is in the ledger of
trusted rows. Someone who can write the records database but does not hold the keyring can neither
add an account, nor swap a token hash, nor widen a scope, nor lift a revocation: the request is
refused (401) and `audit verify` names the row. Each change is an audit event naming the admin, in
the staff desk's transaction (svc:staff). 45 CFR 164.312(d): person or entity authentication, the
entity here being a system."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from auditor.crypto.envelope import new_key_id
from auditor.errors import InputError, NotFound, NotPermitted, SignInRequired
from auditor.home import Vault
from auditor.staff import roles as staff_roles
from auditor.staff.desk import Account, StaffChange, StaffDesk
from auditor.staff.seals import StaffSeals, token_hash
from auditor.vault.gateway.context import export_source
from auditor.vault.records import FeedAccount as FeedRow

FEEDS = FeedRow.__table__
SCOPES = {"feed": "send AuditEvents (POST /fhir/AuditEvent, a batch Bundle to POST /fhir)",
          "search": "search a patient's access events (POST /fhir/AuditEvent/_search)"}
NAME_SIZE = 64
TOKEN_PREFIX = "afeed_"  # so a token pasted into the wrong place is recognisable (and secret scanners find it)


@dataclass(frozen=True)
class FeedAccount:
    """A system account as the office sees it (no token)."""

    id: int
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    certificate: str | None = None  # SHA-256 (hex) of the client certificate that may stand for its token

    def holds(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def status(self) -> str:
        return "revoked" if self.revoked_at is not None else "active"


@dataclass(frozen=True)
class NewFeed:
    """An account just added, with its bearer token: shown once, never stored."""

    account: FeedAccount
    token: str


def _account(row) -> FeedAccount:
    return FeedAccount(row.id, row.name, tuple(row.scopes.split(",")), row.created_at, row.created_by, row.revoked_at,
                       row.cert_sha256.hex() if row.cert_sha256 is not None else None)


def certificate_hash(pem: bytes) -> bytes:
    """SHA-256 of a client certificate's DER, from its PEM (InputError if it is not one certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise InputError("the certificate file holds no PEM certificate") from None
    if len(certificates) != 1:
        raise InputError(f"the certificate file holds {len(certificates)} certificates: give the system's own, alone")
    return hashlib.sha256(certificates[0].public_bytes(Encoding.DER)).digest()


def parse_scopes(scopes: tuple[str, ...]) -> tuple[str, ...]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InputError(f"a feed account's scope is one or more of {', '.join(SCOPES)}"
                         + (f" (not {', '.join(unknown)})" if unknown else ""))
    return tuple(sorted(set(scopes)))


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_SIZE or not all(c.isalnum() or c in "._-" for c in name):
        raise InputError(f"a feed account's name is 1 to {NAME_SIZE} letters, digits and . _ -")
    return export_source(name)  # its events are logged under this name: never the vault's own


class FeedAccounts:
    """The system accounts of one vault. Changes need a signed-in admin (`by`)."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self.desk = StaffDesk(vault)
        self.seals = StaffSeals(vault.keyring.index_root_key)

    def list(self) -> list[FeedAccount]:
        with self.vault.records.connect() as conn:
            return [_account(r) for r in conn.execute(select(FEEDS).order_by(FEEDS.c.name))]

    def authenticate(self, token: str | None) -> FeedAccount:
        """The active account whose token this is, its row's seal intact; else SignInRequired (401),
        the same for a forged, revoked or tampered one."""
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            raise SignInRequired("a bearer token of an active feed account is required")
        with self.vault.records.connect() as conn:
            row = conn.execute(select(FEEDS).where(FEEDS.c.token_hash == token_hash(token))).first()
        return self._active(row)

    def authenticate_certificate(self, der: bytes) -> FeedAccount:
        """The active account this client certificate (DER, verified by the TLS handshake against the
        server's --client-ca) was registered for, its row's seal intact; else SignInRequired (401), the
        same as for a token."""
        with self.vault.records.connect() as conn:
            row = conn.execute(select(FEEDS).where(FEEDS.c.cert_sha256 == hashlib.sha256(der).digest())).first()
        return self._active(row)

    def _active(self, row) -> FeedAccount:
        """The account of `row` if it is not revoked and its seal holds; else SignInRequired."""
        if row is None or row.revoked_at is not None or not self.seals.matches(self.seals.feed(row._mapping), row.seal):
            raise SignInRequired("a bearer token of an active feed account is required")
        return _account(row)

    def add(self, name: str, scopes: tuple[str, ...], by: Account, certificate: bytes | None = None) -> NewFeed:
        """A new account and its token; `certificate`: the PEM of a client certificate that may stand for
        the token (its SHA-256 is kept)."""
        name, scopes = check_name(name), parse_scopes(scopes)
        cert_sha256 = certificate_hash(certificate) if certificate is not None else None
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)

        def work(change: StaffChange) -> FeedAccount:
            _check_admin(change, by)
            if change.session.execute(select(FEEDS.c.id).where(FEEDS.c.name == name)).first() is not None:
                raise InputError(f"a feed account named {name} exists already")
            if cert_sha256 is not None and change.session.execute(
                    select(FEEDS.c.name).where(FEEDS.c.cert_sha256 == cert_sha256)).first() is not None:
                raise InputError("that certificate stands for another feed account already")
            values = {"id": new_key_id(), "name": name, "scopes": ",".join(scopes), "token_hash": token_hash(token),
                      "created_at": change.at, "created_by": by.user_name, "revoked_at": None,
                      "cert_sha256": cert_sha256}
            change.session.execute(insert(FEEDS).values(**values, seal=self.seals.feed(values)))
            change.record_rows("feed_accounts", "create", [values["id"]])
            with_certificate = f", client certificate sha256:{cert_sha256.hex()[:16]}" if cert_sha256 else ""
            change.record("feed_account", values["id"], f"feed account {name} added with scope(s) "
                                                         f"{', '.join(scopes)}{with_certificate} by admin {by.user_name}",
                          action="create")
            return _account(_row(change, name))

        return NewFeed(self.desk.change("create", work), token)

    def revoke(self, name: str, by: Account) -> FeedAccount:
        """Revoke the account: its token is refused from the next request on (the row stays: the log names it)."""

        def work(change: StaffChange) -> FeedAccount:
            _check_admin(change, by)
            row = _row(change, name.strip())
            if row is None:
                raise NotFound(f"no feed account named {name.strip()}")
            if row.revoked_at is not None:
                raise InputError(f"feed account {row.name} is revoked already")
            values = {**row._mapping, "revoked_at": change.at}
            change.session.execute(update(FEEDS).where(FEEDS.c.id == row.id)
                                   .values(revoked_at=change.at, seal=self.seals.feed(values)))
            change.record_rows("feed_accounts", "update", [row.id])
            change.record("feed_account", row.id, f"feed account {row.name} revoked by admin {by.user_name}",
                          action="update")
            return _account(_row(change, row.name))

        return self.desk.change("update", work)


def _row(change: StaffChange, name: str):
    return change.session.execute(select(FEEDS).where(FEEDS.c.name == name)).first()


def _check_admin(change: StaffChange, by: Account) -> None:
    """`by` must be an active admin now, as the database and its seal say."""
    row = change.account_row(account_id=by.id)
    if (row is None or row.disabled_at is not None or not change.sealed_correctly(row)
            or staff_roles.ADMIN not in staff_roles.loaded(row.roles)):
        raise NotPermitted("only an admin changes feed accounts")

"""System accounts that send the EHR's audit events to the web app's FHIR endpoint (`POST
/fhir/AuditEvent`, the IHE ATX:FHIR Feed) or search them (`POST /fhir/AuditEvent/_search`): not people,
so no password and no TOTP; a bearer token of which only the SHA-256 is stored, and perhaps the SHA-256
of a client certificate that may stand for it. `seal` is an HMAC of
the row under a key derived from the keyring (auditor.staff.seals): a token hash swapped or a scope
widened by SQL is refused at the next request, and the ledger (auditor.vault.ledger) names the row at
`audit verify`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from auditor.database import RecordsBase, UTCDateTime


class FeedAccount(RecordsBase):
    __tablename__ = "feed_accounts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # random
    name: Mapped[str] = mapped_column(String(64), unique=True)  # the source its events are logged under
    scopes: Mapped[str] = mapped_column(String(32))  # comma-separated, sorted: feed, search
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)  # SHA-256 of the bearer token
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))  # the admin's user name
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seal: Mapped[bytes] = mapped_column(LargeBinary)
    # SHA-256 of the client certificate (DER) that may stand for the token (auditor serve --client-ca) (r0022)
    cert_sha256: Mapped[bytes | None] = mapped_column(LargeBinary, unique=True)

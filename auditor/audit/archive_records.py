"""What an archive record vouches for, signed: the only way events leave the database.

`auditor audit archive` moves the log's oldest events to a file and keeps their leaves in
`audit_archived_leaves`. Leaves alone do not say that the events went into a file six years after
they were made: anyone who can write the database could copy leaves there and delete the events. So
each `audit_archives` row is signed with the keyring's Ed25519 key over its range, its cut-off day,
the file's name and SHA-256, the root signed for its last event and when it was made; `audit verify`
accepts archived leaves only inside a record whose signature holds and whose cut-off keeps the
six-year rule (45 CFR 164.530(j)(2)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, select

from auditor.audit.schema import LogArchive

STATEMENT = "auditor-archive-record/1"
KEPT_YEARS = 6  # 45 CFR 164.530(j)(2)
# archived leaves (32 bytes each) fetched at a time where all are read: a server-side cursor on PostgreSQL
LEAVES = 100_000
ARCHIVES = LogArchive.__table__


@dataclass(frozen=True)
class ArchiveRecord:
    id: int
    first_seq: int
    last_seq: int
    before_us: int
    file_name: str
    file_sha256: str
    root: bytes
    created_us: int
    signature: bytes | None

    def statement(self) -> bytes:
        return archive_statement(self.first_seq, self.last_seq, self.before_us, self.file_name, self.file_sha256,
                                 self.root, self.created_us)

    def signed_by(self, public_key: bytes) -> bool:
        if not self.signature:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(bytes(self.signature), self.statement())
            return True
        except (InvalidSignature, ValueError):
            return False

    def keeps_six_years(self) -> bool:
        """Every event it holds is older than its cut-off, and the cut-off was at least six years
        before the day it was made."""
        return _day(self.before_us) <= oldest_allowed_cutoff(_day(self.created_us))


def archive_statement(first_seq: int, last_seq: int, before_us: int, file_name: str, file_sha256: str, root: bytes,
                      created_us: int) -> bytes:
    return (f"{STATEMENT}\n{first_seq}\n{last_seq}\n{before_us}\n{file_name}\n{file_sha256}\n{root.hex()}\n"
            f"{created_us}\n").encode("utf-8")


def sign_record(signing_key: Ed25519PrivateKey, **fields) -> bytes:
    return signing_key.sign(archive_statement(**fields))


def oldest_allowed_cutoff(today: date) -> date:
    """The latest cut-off day allowed on `today`: events younger than six years stay in the database."""
    try:
        return today.replace(year=today.year - KEPT_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year - KEPT_YEARS, day=28)


def _day(us: int) -> date:
    return datetime.fromtimestamp(us // 1_000_000, tz=timezone.utc).date()


def archive_records(conn: Connection) -> list[ArchiveRecord]:
    """Every archive record, oldest range first."""
    columns = [ARCHIVES.c[name] for name in ArchiveRecord.__dataclass_fields__]
    return [ArchiveRecord(*row) for row in conn.execute(select(*columns).order_by(ARCHIVES.c.first_seq))]

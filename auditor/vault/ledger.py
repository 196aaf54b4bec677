"""The ledger of the rows the engine and the reports trust: every row of these tables is recorded in the
audit log when it is written, with a digest of all its columns, so `auditor audit verify` names each
row inserted, edited or deleted behind the gateway's back.

The explanations turn an access into treatment on the word of the care team, the encounters, the
orders, the appointments, the authored documents and the workforce file; the identity rules on the
patients' and the workforce's blind indexes; a suppression mutes findings; the organisation's time zone draws the day boundaries; a staff account's roles say
who may use the web app and the CLI for what. Someone who can write the
records database could otherwise add a care-team row and make a snooping finding disappear. The log
is tamper-evident (sealed events, a Merkle tree, signed checkpoints), so a ledger event cannot be
removed or changed unseen, and a row that no ledger event vouches for, or that differs from its
digest, is named with its table and key.

A ledger event is an audit event of the vault's own service work: source "vault", role "service",
record_type "table:<name>", record_id the row's key, action create | update | delete, and the row's
digest in source_row_hash (the digest of the row as it was, for a delete).
"""

from __future__ import annotations

import hashlib
import json
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from datetime import date, datetime
from typing import Iterable, Iterator

import orjson
from sqlalchemy import CHAR, Connection, Integer, LargeBinary, String, Table, TypeDecorator

from auditor.audit.event_checks import LEDGER_PREFIX
from auditor.database import server_cursor_rows
from auditor.vault.records import (AccountingSuspension, CareTeamMember, Case, CaseFinding, CaseHistoryEntry,
                                   ClinicalDocument, Disclosure, Encounter, FeedAccount, LegalHold,
                                   LegalHoldHistoryEntry, MutedFinding, Order, Appointment, AuthoredDocument, Patient,
                                   PurgeProposal, StaffAccount, Suppression, VaultSetting, WorkforceMember)

# table name -> (table, its key column). Rows of every other table are not recorded here: see README,
# "Threat model", for what covers them.
LEDGER: dict[str, tuple[Table, str]] = {
    "patients": (Patient.__table__, "id"),
    "workforce": (WorkforceMember.__table__, "id"),
    "encounters": (Encounter.__table__, "id"),
    "care_team": (CareTeamMember.__table__, "id"),
    "documents": (ClinicalDocument.__table__, "id"),
    # since r0021: the version-2 context that explains accesses (explanations 5 to 7)
    "orders": (Order.__table__, "id"),
    "appointments": (Appointment.__table__, "id"),
    "authored_documents": (AuthoredDocument.__table__, "id"),
    "suppressions": (Suppression.__table__, "id"),
    "muted_findings": (MutedFinding.__table__, "case_finding_id"),  # the findings the case ranking leaves out
    "vault_settings": (VaultSetting.__table__, "name"),
    "staff_accounts": (StaffAccount.__table__, "id"),  # who may sign in, with which roles
    "retention_purge_proposals": (PurgeProposal.__table__, "id"),  # who proposed a purge, who approved it
    "feed_accounts": (FeedAccount.__table__, "id"),  # which systems may send or search events, by which token
    # since r0020: what the triage, the report and a purge decide on
    "cases": (Case.__table__, "id"),  # status, disposition, sanction, days
    "case_findings": (CaseFinding.__table__, "id"),  # rule, severity, risk, events: the ranking and the budget
    "case_history": (CaseHistoryEntry.__table__, "id"),  # who reviewed and decided, when
    "retention_holds": (LegalHold.__table__, "id"),  # what a purge must spare
    "retention_hold_history": (LegalHoldHistoryEntry.__table__, "id"),
    "disclosures": (Disclosure.__table__, "id"),  # the accounting of disclosures (45 CFR 164.528)
    "roi_accounting_suspensions": (AccountingSuspension.__table__, "id"),  # what the accounting leaves out
}
# tables a revision brought into the ledger: `auditor db upgrade` records the rows they already hold
ADDED_BY_REVISION: dict[str, tuple[str, ...]] = {
    "r0020": ("cases", "case_findings", "case_history", "retention_holds", "retention_hold_history", "disclosures",
              "roi_accounting_suspensions"),
    "r0021": ("orders", "appointments", "authored_documents"),  # new tables: empty at upgrade
}
ACTIONS = ("create", "update", "delete")
_COLUMNS = {name: tuple(c.name for c in table.columns) for name, (table, _) in LEDGER.items()}
_CHUNK = 900


def record_type(table: str) -> str:
    return f"{LEDGER_PREFIX}{table}"


def _plain(value):
    """A stored value as JSON the same on every database and driver: booleans as 0/1 (SQLite stores
    them so), bytes as hex, dates as ISO text."""
    if value is None or isinstance(value, (str, int)) and not isinstance(value, bool):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


_AS_THEY_ARE = frozenset({str, int})  # what _plain gives back unchanged, by exact type (a bool is not an int here)


def row_digest(table: str, values: tuple) -> bytes:
    """SHA-256 of a row's stored values: each column's name and value, in the table's order. A column
    without a value is left out, so a later migration that adds a nullable column changes no row's
    digest. (Every verification runs it once per row of every ledger table: text and integers skip
    _plain.)"""
    names, as_they_are = _COLUMNS[table], _AS_THEY_ARE
    pairs = [[name, value if type(value) in as_they_are else _plain(value)]
             for name, value in zip(names, values) if value is not None]
    return hashlib.sha256(compact_json([table, pairs])).digest()


def compact_json(doc) -> bytes:
    """`doc` as json.dumps(doc, ensure_ascii=False, separators=(",", ":")) writes it, in UTF-8: by
    orjson, whose output is the same bytes for the values written here (text, integers, None, lists),
    three times as fast; what orjson refuses (an integer past 64 bits) by the standard library."""
    try:
        return orjson.dumps(doc)
    except orjson.JSONEncodeError:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _select(conn: Connection, table: str) -> tuple[str, int]:
    """A plain SELECT of every column (raw values, no type processing), and the key's index. Names are
    quoted: "end" is a reserved word in PostgreSQL."""
    t, key = LEDGER[table]
    names = [c.name for c in t.columns]
    quote = conn.dialect.identifier_preparer.quote
    return f"SELECT {', '.join(map(quote, names))} FROM {quote(t.name)}", names.index(key)


def digests(conn: Connection, table: str, keys: Iterable[int | str]) -> dict[str, bytes]:
    """The digest of each of these rows of `table` that exists, by key (as text)."""
    sql, at = _select(conn, table)
    key_column = conn.dialect.identifier_preparer.quote(LEDGER[table][1])
    wanted = list(dict.fromkeys(keys))
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    found: dict[str, bytes] = {}
    for i in range(0, len(wanted), _CHUNK):
        part = wanted[i : i + _CHUNK]
        result = conn.exec_driver_sql(f"{sql} WHERE {key_column} IN ({', '.join([mark] * len(part))})", tuple(part))
        try:  # the driver's tuples, no Row made of each (a review records 2.25 million case findings at 60M)
            found.update((str(row[at]), row_digest(table, tuple(row))) for row in result.cursor.fetchall())
        finally:
            result.close()
    return found


# a value of this exact type, in a column of this kind, is stored as it is given and read back so, on
# SQLite (the column's affinity keeps it) and on PostgreSQL: its digest needs no reading back
_KEPT_AS_GIVEN = ((Integer, int), (String, str), (LargeBinary, bytes))


def written_digests(table: str, conn: Connection, rows: list[dict]) -> dict[str, bytes] | None:
    """The digest of each row about to be inserted into ledger table `table` (dicts keyed by column,
    every row with the same columns, as bulk.insert_rows takes them), made from the values the driver
    is given: what `digests` would read back once they are in. None when a value is not one that every
    backend stores as it is given (a boolean, a date, a float, text in an integer column...), or a
    column left out has a default the database or a function fills in, or text is longer than its
    column, or `conn` is not SQLite or psycopg with UTF-8 text: then read them back. A value
    is taken as the driver is given it before the driver's own wrapping (bytes are bytes, not
    psycopg's Binary), and a TypeDecorator's as its process_bind_param gives it."""
    if not rows:
        return {}
    dialect = conn.dialect
    if dialect.name != "sqlite" and not (dialect.driver == "psycopg" and _client_encoding(conn) == "utf-8"):
        return None  # another driver, or text that PostgreSQL would give back as bytes (SQL_ASCII)
    t, key = LEDGER[table]
    given = list(rows[0])
    if not set(given) <= set(t.columns.keys()):
        return None
    kinds, lengths, processors, fixed = [], [], [], {}
    for c in t.columns:
        decorated = isinstance(c.type, TypeDecorator)  # its value as stored: process_bind_param's (UTCDateTime)
        kind = c.type.impl_instance if decorated else c.type
        # CHAR is padded by PostgreSQL: never as given
        kinds.append(None if isinstance(kind, CHAR) else next((python for sql, python in _KEPT_AS_GIVEN
                                                                 if isinstance(kind, sql)), None))
        lengths.append(getattr(kind, "length", None))
        processors.append(partial(c.type.process_bind_param, dialect=dialect) if decorated and c.key in given
                          else None)
        if c.key not in given:  # as insert_rows leaves it: a scalar Python-side default, or nothing
            if c.server_default is not None or (c.default is not None and not c.default.is_scalar):
                return None
            fixed[c.key] = c.default.arg if c.default is not None else None
    out: dict[str, bytes] = {}
    for row in rows:
        if row.keys() != rows[0].keys():
            return None
        values = []
        for c, kind, length, process in zip(t.columns, kinds, lengths, processors):
            value = fixed[c.key] if c.key in fixed else process(row[c.key]) if process else row[c.key]
            if value is not None and type(value) is not kind:
                return None
            if length is not None and type(value) is str and len(value) > length:
                return None  # PostgreSQL cuts the spaces past VARCHAR(n)'s length (refuses anything else)
            values.append(value)
        out[str(row[key])] = row_digest(table, tuple(values))
    return out


def _client_encoding(conn: Connection) -> str:
    return conn.connection.driver_connection.info.encoding


def all_digests(conn: Connection, table: str, batch: int = 20_000) -> Iterator[tuple[str, bytes]]:
    """(key, digest) of every row of `table`, `batch` rows held at a time: on PostgreSQL through
    psycopg's own named cursor (its ordinary one would hold the whole table first, its ciphertext
    included: 2.25 million case findings a month at 60 million events), nothing set on `conn`. The
    driver's tuples are the values exec_driver_sql gave (no type processing either way). Read it to
    the end, or close it while `conn` is still the caller's."""
    sql, at = _select(conn, table)
    if conn.dialect.name == "postgresql":
        with closing(server_cursor_rows(conn, sql, None, batch)) as batches:  # closed with this one
            for _, rows in batches:
                for row in rows:
                    yield str(row[at]), row_digest(table, row)
        return
    result = conn.exec_driver_sql(sql)  # begun in the connection's transaction, as any read of it is
    try:
        cursor = result.cursor  # its rows as the driver gives them, tuples, without a Row made of each
        while rows := cursor.fetchmany(batch):
            for row in rows:
                yield str(row[at]), row_digest(table, tuple(row))
    finally:
        result.close()


@dataclass(frozen=True)
class RowProblem:
    table: str
    key: str
    kind: str  # row-inserted | row-edited | row-deleted
    seq: int | None  # the ledger event that recorded the row (None: no event did)

    @property
    def message(self) -> str:
        what = f"{self.table} row {self.key}"
        if self.kind == "row-inserted":
            return f"{what} was inserted behind the gateway: no audit event recorded it"
        if self.kind == "row-edited":
            return f"{what} was edited behind the gateway: it differs from what event {self.seq} recorded"
        return f"{what} was deleted behind the gateway: event {self.seq} recorded it, no audit event removed it"


def recorded_rows(entries: Iterable[tuple[int, str, str, str, bytes | None]]) -> dict[str, dict[str, tuple[int, bytes]]]:
    """The rows the ledger says exist now (table -> key -> (seq of its last event, digest)), by
    replaying its entries in sequence order."""
    state: dict[str, dict[str, tuple[int, bytes]]] = {name: {} for name in LEDGER}
    for seq, table, key, action, digest in entries:
        rows = state.setdefault(table, {})
        if action == "delete":
            rows.pop(key, None)
        elif digest is not None:
            rows[key] = (seq, digest)
    return state


def compare(conn: Connection, entries: Iterable[tuple[int, str, str, str, bytes | None]]) -> list[RowProblem]:
    """Every row of the ledger's tables against what the ledger recorded: one problem per row
    inserted, edited or deleted behind the gateway, in table order."""
    problems = []
    for table, expected in recorded_rows(entries).items():
        if table not in LEDGER:
            continue
        for key, digest in all_digests(conn, table):
            recorded = expected.pop(key, None)
            if recorded is None:
                problems.append(RowProblem(table, key, "row-inserted", None))
            elif recorded[1] != digest:
                problems.append(RowProblem(table, key, "row-edited", recorded[0]))
        problems += [RowProblem(table, key, "row-deleted", seq) for key, (seq, _) in expected.items()]
    return problems

"""Vault settings the rest of the auditor reads: the organisation's time zone.

The time zone given to `auditor ingest --tz` is kept (until changed) as the setting
"organisation_timezone", an IANA name; findings, reports and day boundaries use it
(../shared/spec/interchange.md, "Command-line contract"). A vault that holds data changes it only
when asked to (`--change-timezone`): the rows already loaded keep the times they were read with.
Until an ingest stores one, the organisation's days are UTC days (`Vault.timezone`, `Vault.today`)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from typing import TYPE_CHECKING

from sqlalchemy import Engine, exists, select

from auditor.errors import InputError
from auditor.audit.schema import AuditEventRow, ImportedEventKey
from auditor.vault.records import CareTeamMember, Encounter, Patient, VaultSetting, WorkforceMember

if TYPE_CHECKING:  # pragma: no cover
    from auditor.clock import Clock
    from auditor.vault.gateway import AccessGateway

ORGANISATION_TIMEZONE = "organisation_timezone"
UTC = ZoneInfo("UTC")  # the organisation's zone until an ingest stores one


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or InputError."""
    try:
        if not name or name != name.strip():
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InputError(f"unknown time zone {name!r}: give an IANA name such as America/New_York") from None


def organisation_timezone(engine: Engine) -> ZoneInfo | None:
    """The organisation's time zone, or None when no ingest has set it yet."""
    with engine.connect() as conn:
        name = conn.scalar(select(VaultSetting.value).where(VaultSetting.name == ORGANISATION_TIMEZONE))
    return time_zone(name) if name else None


def today_in(clock: "Clock", tz: ZoneInfo | None) -> date:
    """What day it is on `clock` in `tz` (UTC when None): the organisation's today is Vault.today()."""
    return clock.now().astimezone(tz or UTC).date()


def set_organisation_timezone(gateway: "AccessGateway", zone: ZoneInfo) -> str | None:
    """Store `zone` as the organisation's time zone, through the gateway as svc:import (audited, and
    recorded in the ledger: the day boundaries of every rule hang on it); returns the name it
    replaced (None if unset)."""
    from auditor.vault.gateway import AccessContext

    return gateway.set_setting(AccessContext.service("import"), ORGANISATION_TIMEZONE, zone.key)


def holds_records(engine: Engine) -> bool:
    """Whether the vault holds anything an ingest loads (patients, workforce, encounters, care team,
    EHR access events): what a change of time zone would read differently."""
    imported = (select(ImportedEventKey.source),
                select(AuditEventRow.seq).where(AuditEventRow.source_event_id.is_not(None)))
    queries = [select(table.id) for table in (Patient, WorkforceMember, Encounter, CareTeamMember)] + list(imported)
    with engine.connect() as conn:
        return any(conn.scalar(select(exists(query))) for query in queries)

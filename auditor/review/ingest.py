"""Loading an EHR interchange export as use cases: the organisation's time zone the export is read in
(stored, and changed on a vault that holds data only when asked), the export itself through the
audited gateway (as svc:import), and the rows kept in quarantine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from auditor.errors import InputError
from auditor.home import Vault
from auditor.ingest.ehr_import import DEFAULT_SOURCE, IngestSummary, ingest_directory
from auditor.ingest.event_import import ingest_events
from auditor.ingest.formats import reader
from auditor.ingest.quarantine import Rejection, rejections
from auditor.vault.settings import holds_records


@dataclass(frozen=True)
class ZoneChoice:
    """The zone an ingest reads in: the one given (now stored) or the one stored before."""

    zone: ZoneInfo
    given: bool  # False: none given, the stored one used
    previous: str | None  # the name stored before (None: none was)


def choose_timezone(vault: Vault, zone: ZoneInfo | None, change_timezone: bool = False) -> ZoneChoice:
    """The zone this ingest reads in, stored as the organisation's; refused (before anything is
    stored or loaded) when it would change the zone of a vault that holds data unasked."""
    stored = vault.stored_timezone
    if zone is None and stored is None:
        raise InputError("no organisation time zone is stored yet: give one with --tz (e.g. --tz America/New_York)")
    if zone is None:
        return ZoneChoice(stored, False, stored.key)  # type: ignore[union-attr, arg-type]
    if stored is not None and stored.key != zone.key and not change_timezone and holds_records(vault.records):
        raise InputError(f"the vault holds data and its time zone is {stored.key}: to change it to {zone.key}, "
                         "add --change-timezone (rows already loaded keep their times); nothing was loaded")
    return ZoneChoice(zone, True, vault.set_timezone(zone))


def ingest_export(vault: Vault, folder: Path, zone: ZoneInfo, source: str = DEFAULT_SOURCE,
                  progress: Callable[[str], None] = lambda _: None) -> IngestSummary:
    """The export in `folder` (the contract's five files) read in `zone`, through the gateway: every
    line accounted for, unreadable rows quarantined, rows already present skipped."""
    return ingest_directory(vault.gateway, folder, zone, source, progress=progress)


def ingest_log(vault: Vault, path: Path, format_name: str, zone: ZoneInfo, source: str = DEFAULT_SOURCE,
               progress: Callable[[str], None] = lambda _: None, site_dir: Path | None = None) -> IngestSummary:
    """An audit log in format `format_name` (a file or a folder; auditor.ingest.formats; a vendor's
    extract by a mapping file, the site's in `site_dir`/formats) read in `zone` (for times written
    without an offset), through the gateway: every record accounted for."""
    return ingest_events(vault.gateway, path, reader(format_name, site_dir), zone, source, progress=progress)


def quarantined(vault: Vault, source: str | None = None) -> list[Rejection]:
    """The rows kept in quarantine (of one source, or every), where each was and why."""
    return rejections(vault.records, source)

"""Reading a month's export (auditor.cluster.month_export) as a cluster or another auditor must: nothing
is trusted before the manifest's signature verifies under the vault's public key, and no event is
used before its day's Merkle root, recomputed from the Parquet values, matches the signed one.

An export is refused (ExportRefused, one line naming the file or day) when the manifest is not signed
by the key given, a file was added to or removed from `events/`, any event's stored value differs
from what was exported (its leaf hash changes, so its day's root does), an event sits under another
day or outside the window, or a context file's SHA-256 differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from auditor.audit import merkle
from auditor.audit.canonical_columns import leaf_inputs
from auditor.audit.checkpoints import Checkpoint, key_fingerprint
from auditor.audit.events import CANONICAL_COLUMNS
from auditor.cluster.month_export import EVENT_SCHEMA, FORMAT, days_root, local_days, signed_message
from auditor.errors import InputError, TamperDetected
from auditor.policy import frames as frame_reading
from auditor.policy.frames import Frames, Period
from auditor.policy.typed_frames import (typed_case_patients, typed_care_team, typed_encounters, typed_events,
                                         typed_patients, typed_workforce)

MANIFEST_LIMIT = 64 * 1024 * 1024
CONTEXT = ("workforce", "patients", "encounters", "care_team", "orders", "appointments", "authored", "case_patients")


class ExportRefused(TamperDetected):
    """A month's export that is not exactly what the vault signed."""


@dataclass(frozen=True)
class MonthExport:
    """An export whose manifest's signature verified (its files are checked as they are read)."""

    folder: Path
    manifest: dict
    period: Period
    lookback: timedelta
    explanation_reach: timedelta
    checkpoint: Checkpoint

    @property
    def events(self) -> int:
        return self.manifest["events"]["count"]

    @property
    def days(self) -> list[dict]:
        return self.manifest["events"]["days"]

    @property
    def root(self) -> str:
        return self.manifest["events"]["root"]


def _regular_file(folder: Path, relative: str, limit: int | None = None) -> Path:
    """folder/relative, only a regular file inside the folder (no link, no `..`)."""
    parts = relative.split("/")
    if relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ExportRefused(f"the manifest names {relative!r}, not a file of the export")
    path = folder.joinpath(*parts)
    try:
        for depth in range(1, len(parts) + 1):
            mode = os.lstat(folder.joinpath(*parts[:depth])).st_mode
            if stat.S_ISLNK(mode):
                raise ExportRefused(f"{relative}: a link, not a file of the export")
        info = os.lstat(path)
    except FileNotFoundError:
        raise ExportRefused(f"{relative}: missing from the export") from None
    if not stat.S_ISREG(info.st_mode) or (limit is not None and info.st_size > limit):
        raise ExportRefused(f"{relative}: not a file of the export")
    return path


def open_export(folder: Path, public_key: bytes) -> MonthExport:
    """The export at `folder`, its manifest signed by the holder of `public_key` (InputError when
    there is no export there; ExportRefused when its manifest is not what that key signed)."""
    folder = Path(folder)
    if not (folder / "manifest.json").exists():
        raise InputError(f"{folder}: no manifest.json (not a month's export)")
    raw = _regular_file(folder, "manifest.json", MANIFEST_LIMIT).read_bytes()
    try:
        document = json.loads(raw)
        signature = bytes.fromhex(document.pop("signature"))
        if document.get("format") != FORMAT:
            raise ValueError
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ExportRefused(f"{folder}/manifest.json: not a manifest of {FORMAT}") from None
    if document.get("key") != key_fingerprint(public_key):
        raise ExportRefused(f"{folder}/manifest.json is signed by key {document.get('key')!r}, not by this vault's "
                            f"({key_fingerprint(public_key)})")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, signed_message(document))
    except InvalidSignature:
        raise ExportRefused(f"{folder}/manifest.json: its signature does not verify: it was changed after the "
                            "export") from None
    checkpoint = Checkpoint.parse(json.dumps(document["checkpoint"]), f"{folder}/manifest.json")
    if not checkpoint.verify(public_key):
        raise ExportRefused(f"{folder}/manifest.json: its checkpoint's signature does not verify")
    try:
        period = Period(date.fromisoformat(document["first_day"]), date.fromisoformat(document["last_day"]),
                        ZoneInfo(document["time_zone"]))
    except ZoneInfoNotFoundError:
        raise InputError(f"{folder}: time zone {document['time_zone']!r} is not known on this machine") from None
    return MonthExport(folder, document, period, timedelta(seconds=document["lookback_seconds"]),
                       timedelta(seconds=document["explanation_reach_seconds"]), checkpoint)


def _listed(export: MonthExport) -> None:
    """The files under events/ are exactly the days the manifest lists (a reader such as Spark reads
    every file in the folder, so an added one would be audited unseen)."""
    found = set()
    for folder, _, files in os.walk(export.folder / "events"):
        found |= {str((Path(folder) / f).relative_to(export.folder)) for f in files}
    listed = {d["file"] for d in export.days}
    extra = sorted(found - listed)
    if extra:
        raise ExportRefused(f"{extra[0]}: a file the manifest does not list ({len(extra)} in all)")


def _day_table(export: MonthExport, day: dict, columns: list[str]) -> pa.Table:
    """One day's events, checked against its entry in the manifest; `columns` of them."""
    path = _regular_file(export.folder, day["file"])
    try:
        table = pq.read_table(path, columns=list(CANONICAL_COLUMNS))
    except (pa.ArrowException, OSError, ValueError):
        raise ExportRefused(f"{day['file']}: not a Parquet file of this export") from None
    if not table.schema.equals(EVENT_SCHEMA, check_metadata=False):
        raise ExportRefused(f"{day['file']}: its columns are not the exported events'")
    return checked_day(table, day, export.manifest["events"], export.period).select(columns)


def checked_day(table: pa.Table, day: dict, window: dict, period: Period) -> pa.Table:
    """A day's events (EVENT_SCHEMA, in any order) in sequence order, if they are exactly the events its
    manifest entry `day` names: their count, first and last sequence numbers, each on that local day
    within the export's `window` (first_us, last_us), and their Merkle root; ExportRefused otherwise.
    What a cluster's task runs on the rows it was given for the day."""
    if table.num_rows != day["events"]:
        raise ExportRefused(f"{day['file']}: holds {table.num_rows} events, the manifest says {day['events']}")
    if table["seq"].null_count or table["at_us"].null_count:
        raise ExportRefused(f"{day['file']}: an event without its sequence number or time")
    table = table.take(pc.sort_indices(table["seq"])).combine_chunks()
    seqs, at = table["seq"].to_numpy(zero_copy_only=False), table["at_us"]
    if len(seqs) and (np.any(np.diff(seqs) <= 0) or seqs[0] != day["first_seq"] or seqs[-1] != day["last_seq"]):
        raise ExportRefused(f"{day['file']}: its events are not the exported events in sequence order")
    inside = pc.and_(pc.greater_equal(at, window["first_us"]), pc.less(at, window["last_us"]))
    on_day = local_days(at, period) == np.datetime64(day["day"], "D")
    if not pc.all(inside).as_py() or not on_day.all():
        raise ExportRefused(f"{day['file']}: holds events of another day")
    frontier = merkle.Frontier()
    frontier.extend([hashlib.sha256(data).digest() for data in leaf_inputs(table)])
    if frontier.root().hex() != day["root"]:
        raise ExportRefused(f"{day['file']}: its events' Merkle root is not the one the vault signed: an event was "
                            "changed, added or removed")
    return table


def checked_days(export: MonthExport, columns: list[str]) -> Iterator[pa.Table]:
    """Each day's events in day order, checked (`columns` of them); then the days' root."""
    _listed(export)
    for day in export.days:
        yield _day_table(export, day, columns)
    require_days_root(export)


def require_days_root(export: MonthExport) -> None:
    """The manifest's days' roots give its signed root (ExportRefused otherwise): each day's events are
    checked against their day's root, so this ties them to the one root the checkpoint covers."""
    if days_root(export.days).hex() != export.root:
        raise ExportRefused("the days' roots do not give the export's root")


def context_table(export: MonthExport, name: str) -> pa.Table:
    entry = export.manifest["context"].get(name)
    if entry is None:
        raise ExportRefused(f"the manifest lists no context file {name!r}")
    data = _regular_file(export.folder, entry["file"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise ExportRefused(f"{entry['file']}: its SHA-256 is not the one the vault signed")
    try:
        return pq.read_table(pa.py_buffer(data))
    except (pa.ArrowException, OSError, ValueError):
        raise ExportRefused(f"{entry['file']}: not a Parquet file") from None


def check_export(export: MonthExport) -> int:
    """Every file of the export against the manifest; the events checked (ExportRefused otherwise)."""
    count = sum(t.num_rows for t in checked_days(export, ["seq"]))
    for name in CONTEXT:
        context_table(export, name)
    return count


def _objects(table: pa.Table) -> pd.DataFrame:
    """A context table as load_frames reads it: object columns of plain Python values."""
    return pd.DataFrame({name: pd.Series(table.column(name).to_pylist(), dtype=object) for name in table.column_names})


_ENGINE = [*frame_reading._BLOCK_COLUMNS, "reason"]


def frames_of(export: MonthExport) -> Frames:
    """The frames load_frames would read from the vault for the export's month, from the export:
    every file checked as it is read."""
    chunks = []
    for table in checked_days(export, _ENGINE):
        if table.num_rows:
            has_reason = pc.is_valid(table["reason"])
            chunks.append(frame_reading._typed_block_events(
                [table.drop_columns(["reason"]).append_column("has_reason", has_reason)]))
    several = len(chunks) > 1
    events = frame_reading.concat_events(chunks) if chunks else typed_events(frame_reading.empty_events())
    if several:  # days in day order: the log's order is by sequence number
        events = frame_reading.in_sequence(events)
    return month_frames(events, {name: _objects(context_table(export, name)) for name in CONTEXT}, export.period)


def month_frames(events: pd.DataFrame, raw: dict[str, pd.DataFrame], period: Period) -> Frames:
    """Frames of typed events and the context as read (object columns), typed as load_frames types them."""
    return Frames(events, typed_workforce(raw["workforce"]), typed_patients(raw["patients"]),
                  typed_encounters(raw["encounters"]), typed_care_team(raw["care_team"]), period, [],
                  typed_case_patients(raw["case_patients"]), **frame_reading.care_activity(raw))


def require_lookback(export: MonthExport, policy) -> None:
    """InputError when the rules look back further before the month than the export holds."""
    if policy.lookback() > export.lookback:
        raise InputError(f"the rules look back {policy.lookback()} (h:mm:ss) before the month; the export holds "
                         f"{export.lookback}: export it again with these rules")

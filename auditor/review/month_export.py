"""A month's audit for an engine elsewhere, as use cases: `auditor export month --parquet` writes the
rules' window of the log and the context they read as a signed Parquet export
(auditor.cluster.month_export); `auditor export check` and every engine that reads one check it first
(auditor.cluster.month_input); `review_export` runs the rules over a checked export, as
`review_period` runs them over the vault.

The export is written whole or not at all (a staging folder renamed into place). Its checkpoint is
signed from the log's head in the same read snapshot as its events, and appended to the vault's
checkpoints file like any other, so `auditor audit verify` later proves the log still holds every
event exported. The export itself is an audited act (action "export" on the audit log, in the name
of the member who ran it), recorded before the folder is placed: a failed audit write leaves no
export.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from auditor.audit.events import AuditEvent
from auditor.cluster.month_export import MonthWindow, manifest, write_context, write_events
from auditor.cluster.peer_group_split import PART_EVENTS
from auditor.cluster.month_input import MonthExport, check_export, frames_of, open_export, require_lookback
from auditor.database import read_snapshot
from auditor.errors import AuditorError, ConfigurationError
from auditor.home import Vault
from auditor.phi_files import staged_folder
from auditor.policy import engine
from auditor.policy.engine import Detection
from auditor.policy.frames import Period
from auditor.policy.rules import Policy
from auditor.review.timeline import AROUND
from auditor.staff.roles import OFFICE_REVIEW

EXPLANATION_REACH = timedelta(days=90)  # load_frames' default: the widest explanation window


@dataclass(frozen=True)
class MonthExported:
    folder: Path
    events: int
    days: int
    root: str
    checkpoint_size: int
    key: str


def export_month(vault: Vault, period: Period, policy: Policy, folder: Path, member: str) -> MonthExported:
    """The month `period` (and the rules' lookback before it) as a signed Parquet export at `folder`
    (a new or empty folder), exported by the signed-in `member`."""
    window = MonthWindow(period, policy.lookback(), EXPLANATION_REACH)
    keyring = vault.keyring
    with staged_folder(folder) as staging:
        with vault.records.connect() as conn:
            read_snapshot(conn)
            days = write_events(conn, window, keyring.log_mac_key, staging)
            context = write_context(conn, window, staging)
            checkpoint = vault.audit_log.checkpoint_now(conn)
        document = manifest(window, days, context, checkpoint, vault.clock.now(), member, keyring.signing_key,
                            keyring.signing_public_key)
        (staging / "manifest.json").write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
        done = MonthExported(Path(folder), document["events"]["count"], len(days), document["events"]["root"],
                             checkpoint.size, document["key"])
        event = AuditEvent(at=vault.clock.now(), action="export", user_id=member, record_type="audit_log",
                           purpose=OFFICE_REVIEW,
                           detail=f"month export {period.first_day}..{period.last_day} (and {window.lookback} before it): "
                                  f"{done.events} events in {done.days} days, root {done.root}, "
                                  f"checkpoint {checkpoint.size}")
        with vault.records.begin() as conn:
            appended = vault.audit_log.append(conn, [event])
        vault.audit_log.after_commit(appended, 1)
    return done


def checked_export(folder: Path, public_key: bytes) -> tuple[MonthExport, int]:
    """The export at `folder` and its events' count, every file checked (ExportRefused otherwise)."""
    export = open_export(folder, public_key)
    return export, check_export(export)


def review_export(folder: Path, public_key: bytes, policy: Policy) -> tuple[MonthExport, Detection]:
    """The rules over a month's export, as `review_period` runs them over the vault (the engine's
    detection; findings are built by the vault that signed it). InputError when the rules look back
    further than the export reaches."""
    export = open_export(folder, public_key)
    require_lookback(export, policy)
    return export, engine.run(frames_of(export), policy)


@dataclass(frozen=True)
class OnSpark:
    """An engine for review_period: the period exported (as `auditor export month` does, recorded in
    `member`'s name) into `folder`/FIRST_LAST (one export for each period a command judges: the
    monthly report judges its month and the month before), or into a temporary folder removed
    afterwards, then checked and judged on the Spark cluster at `master`. A cluster whose executors are
    on other machines reads the export where they can: `folder` on storage they share. `tally`: what
    the cluster counts of each partition for the caller (auditor.cluster.partitions.Tally), in the
    Detection's context.tallies."""

    master: str
    member: str
    folder: Path | None = None
    tally: object = None
    most_events: int = PART_EVENTS  # a role of more events is judged in parts, by peer group

    def __call__(self, vault: Vault, period: Period, policy: Policy) -> Detection:
        from auditor.cluster.spark_engine import detect_on_spark, spark_session

        with tempfile.TemporaryDirectory(prefix="auditor-export-") as scratch:
            target = (self.folder or Path(scratch)) / f"{period.first_day}_{period.last_day}"
            export_month(vault, period, policy, target, self.member)
            export = open_export(target, vault.keyring.signing_public_key)
            try:
                spark = spark_session(self.master)
            except AuditorError:
                raise
            except Exception as exc:  # no Java, a master that does not answer: Spark's own words, first line
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ConfigurationError(f"cannot start Spark at {self.master}: {reason}") from None
            try:
                return detect_on_spark(spark, export, policy, AROUND, self.tally, self.most_events)
            finally:
                spark.stop()

"""The certificate of destruction: that destruction followed the schedule, when, what was destroyed
with its date range, the method (NIST SP 800-88 purge by cryptographic erasure), who approved,
performed and witnessed it. It is kept permanently: in the purge run's row (the database refuses to
delete it, migration r0004) with its SHA-256, and as HTML and PDF under the vault home's
certificates/ folder (0600), placed together in the transaction that closes the run: a failure
leaves neither a closed run without its files nor a file without a closed run (run the purge again).
It names patients by internal id only: their identities were destroyed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from auditor.audit.log import AuditLog
from auditor.errors import NotFound
from auditor.phi_files import private_folder
from auditor.reporting import writers
from auditor.reporting.templates import Site
from auditor.retention.purge import METHOD, PurgeRefused
from auditor.retention.schedules import Schedule
from auditor.vault.gateway.retention import RecordsManagement, RetentionChange
from auditor.vault.records import PurgeItem, PurgePlan, PurgeRun

TEMPLATE = "certificate.html"


@dataclass(frozen=True)
class Certificate:
    purge_id: int
    destroyed: int
    sha256: str
    paths: dict[str, Path]


def _totals(items: list[PurgeItem]) -> dict:
    return {"documents": sum(i.documents or 0 for i in items), "encounters": sum(i.encounters or 0 for i in items),
            "care_team": sum(i.care_team or 0 for i in items),
            "first_record": min((i.first_record for i in items if i.first_record), default=None),
            "last_record": max((i.last_record for i in items if i.last_record), default=None)}


def certificate_context(site: Site, run: PurgeRun, items: list[PurgeItem], schedule: Schedule, checkpoint: dict,
                        withdrawn: list[int], plan: PurgePlan | None = None) -> dict:
    destroyed = sorted((i for i in items if i.state == "destroyed"), key=lambda i: i.patient_id)
    return {"title": "Certificate of destruction", "purge": run, "site": site, "schedule": schedule, "method": METHOD,
            "items": destroyed, "totals": _totals(destroyed), "checkpoint": checkpoint, "withdrawn": withdrawn,
            "plan": plan}


def _load(records: Engine, purge_id: int) -> tuple[PurgeRun, list[PurgeItem], PurgePlan | None]:
    with Session(records) as session:
        run = session.get(PurgeRun, purge_id)
        items = list(session.scalars(select(PurgeItem).where(PurgeItem.purge_id == purge_id).order_by(PurgeItem.id)))
        plan = session.get(PurgePlan, run.plan_id) if run is not None and run.plan_id is not None else None
        session.expunge_all()
    if run is None:
        raise NotFound(f"no purge {purge_id}")
    return run, items, plan


def _files(purge_id: int, html: str, pdf: bool) -> dict[str, str | bytes]:
    """The certificate's files by name: HTML, and the PDF laid out from it."""
    stem = f"certificate-of-destruction-{purge_id}"
    files: dict[str, str | bytes] = {f"{stem}.html": html}
    if pdf:
        files[f"{stem}.pdf"] = writers.html_to_pdf(html)
    return files


def issue_certificate(records: Engine, office: RecordsManagement, audit_log: AuditLog, schedule: Schedule,
                      purge_id: int, site: Site, out_dir: Path, pdf: bool = True) -> Certificate:
    """Sign a checkpoint covering the destruction events, render the certificate, write it, and close
    the run with it (audited). Refused while an item is still pending (resume the purge first)."""
    run, items, plan = _load(records, purge_id)
    if any(i.state == "pending" for i in items):
        raise PurgeRefused(f"purge {purge_id} is unfinished: run the purge again to finish it")
    with records.connect() as conn:
        cp = audit_log.checkpoint_now(conn)
    run.log_size, run.log_root = cp.size, cp.root.hex()
    run.finished_at = run.finished_at or office.gateway.clock.now()
    withdrawn = [i.patient_id for i in items if i.state == "withdrawn"]
    context = certificate_context(site, run, items, schedule, {"size": cp.size, "root": cp.root.hex()}, withdrawn, plan)
    html = writers.render_html(site, TEMPLATE, context)
    digest = hashlib.sha256(html.encode("utf-8")).hexdigest()
    destroyed = len(context["items"])
    files, folder = _files(purge_id, html, pdf), private_folder(out_dir)

    def work(change: RetentionChange) -> list[Path]:
        row = change.session.get(PurgeRun, purge_id, with_for_update=True)
        row.status, row.finished_at = "finished", run.finished_at
        row.log_size, row.log_root = run.log_size, run.log_root
        row.certificate_html, row.certificate_sha256 = html, digest
        change.record("certificate", purge_id, f"purge {purge_id} finished: {destroyed} patient(s) destroyed by "
                      f"{METHOD}; certificate sha256 {digest[:16]}")
        return change.stage(folder, files)  # placed with the run's commit; a failed commit takes them away

    placed = office.change("create", work)
    return Certificate(purge_id, destroyed, digest, dict(zip(("html", "pdf"), placed)))


def stored_certificate(records: Engine, purge_id: int) -> tuple[str, str]:
    """The certificate kept in the database (HTML, SHA-256)."""
    run, _, _ = _load(records, purge_id)
    if run.certificate_html is None:
        raise NotFound(f"purge {purge_id} has no certificate yet: it is unfinished")
    return run.certificate_html, run.certificate_sha256  # type: ignore[return-value]

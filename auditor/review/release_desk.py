"""What the release-of-information desk's pages need beyond auditor.review.release: the queue with
each request's patient, a request's file with its patient and requester, read as the signed-in
coordinator (audited in their name, for the request's purpose of use; the queue's for operations),
the authorization checklist (45 CFR 164.508(c), 42 CFR 2.31, 164.512(e)), the accounting of
disclosures answering a patient's request for one (164.528), and the request's folder under the
vault home ($AUDITOR_HOME/roi/<id>/) where its packet, letter or accounting is written with the
change and read back by a name from a fixed list, never by a path a request names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable

from auditor.errors import InputError, NotFound
from auditor.home import Vault
from auditor.phi_files import read_private
from auditor.reporting.templates import Site
from auditor.review import release
from auditor.roi import request_file as files
from auditor.roi.accounting import Accounting
from auditor.roi.deadlines import Standing, standing
from auditor.roi.permissions import Defect, Permission, defects
from auditor.roi.policy import RoiPolicy, load_roi_policy
from auditor.roi.queue import QueueEntry
from auditor.roi.request_file import RequestFile
from auditor.roi.workflow import OPEN
from auditor.vault.gateway.context import AccessContext
from auditor.vault.gateway.directory import ReportDirectory
from auditor.vault.gateway.release import ReleaseDesk

FOLDER = "roi"
OPERATIONS = "HOPERAT"  # working the queue: health care operations
# what a request's folder may hold (auditor.roi.packet, auditor.roi.accounting): the only names served
KEPT = {"release-packet.html": "text/html; charset=utf-8", "release-packet.pdf": "application/pdf",
        "bundle.json": "application/fhir+json", "denial-letter.html": "text/html; charset=utf-8",
        "denial-letter.pdf": "application/pdf", "accounting.html": "text/html; charset=utf-8",
        "accounting.pdf": "application/pdf"}
Reader = Callable[[str], AccessContext]  # the signed-in coordinator, for a purpose of use


def request_folder(vault: Vault, request_id: int) -> Path:
    return vault.home / FOLDER / str(request_id)


@dataclass(frozen=True)
class QueueRow:
    entry: QueueEntry
    mrn: str | None  # None once the patient's records were destroyed
    patient: str | None


def queue_with_patients(vault: Vault, reader: Reader, as_of: date | None = None, within: int = 7) -> list[QueueRow]:
    """The open requests (overdue first) with each one's patient, read as the coordinator for operations."""
    entries = release.request_queue(vault, as_of, within)
    patient_of = files.patients_of(vault.records, [e.request_id for e in entries])
    directory = ReportDirectory(vault.gateway, reader(OPERATIONS))
    wanted = sorted(set(patient_of.values()))
    mrns, names = directory.mrns(wanted), directory.patients(wanted)
    return [QueueRow(e, mrns.get(patient_of[e.request_id]), names.get(patient_of[e.request_id])) for e in entries]


@dataclass(frozen=True)
class RequestView:
    file: RequestFile
    purpose: str  # of use: the requester type's (policies/roi/requesters.yaml)
    mrn: str | None
    patient: str | None
    standing: Standing
    kept: tuple[str, ...]  # the files in the request's folder

    @property
    def open(self) -> bool:
        return self.file.heading.status in OPEN


def purpose_of(vault: Vault, request_id: int, policy: RoiPolicy | None = None) -> str:
    """The purpose of use of the request (its requester type's); NotFound when there is no such request."""
    return (policy or load_roi_policy()).requesters[files.heading(vault.records, request_id).requester_type].purpose


def request_view(vault: Vault, request_id: int, reader: Reader, policy: RoiPolicy | None = None) -> RequestView:
    """The request's file, its patient and its requester read as the coordinator for its purpose of use."""
    purpose = purpose_of(vault, request_id, policy)
    ctx = reader(purpose)
    found = ReleaseDesk(vault.gateway, ctx).change("view", lambda change: files.read_request_file(change, request_id))
    pid = found.heading.patient_id
    directory = ReportDirectory(vault.gateway, ctx)
    mrn, name = directory.mrns([pid]).get(pid), directory.patients([pid]).get(pid)
    return RequestView(found, purpose, mrn, name, standing(found.due_on, vault.today()), kept_files(vault, request_id))


def kept_files(vault: Vault, request_id: int) -> tuple[str, ...]:
    folder = request_folder(vault, request_id)
    if folder.is_symlink() or not folder.is_dir():
        return ()
    return tuple(name for name in KEPT if (folder / name).is_file() and not (folder / name).is_symlink())


def kept_file(vault: Vault, request_id: int, name: str, reader: Reader) -> tuple[bytes, str]:
    """A file of the request's folder (by one of the names it may hold) and its media type; its
    download recorded as the coordinator's read of the request. NotFound otherwise."""
    if name not in KEPT:
        raise NotFound("no such file")
    heading = files.heading(vault.records, request_id)
    content = read_private(vault.home, FOLDER, str(request_id), name)
    ReleaseDesk(vault.gateway, reader(purpose_of(vault, request_id))).change("view", lambda change: change.record_request(
        "view", request_id, heading.patient_id, f"{name} downloaded from the request's folder"))
    return content, KEPT[name]


def check_permission(permission: Permission, on: date, policy: RoiPolicy | None = None) -> list[Defect]:
    """Each element the permission misses (and why else it cannot be relied on, on `on`), named."""
    return defects(permission, policy or load_roi_policy(), on)


def answer_accounting(vault: Vault, request_id: int, reader: Reader, by: str, site: Site, *,
                      pdf: bool = True) -> Accounting:
    """The accounting of disclosures a patient asked for, written into the request's folder, the
    request fulfilled with it (one unit of work); the MRN is read as the coordinator."""
    heading = files.heading(vault.records, request_id)
    if heading.kind != "accounting":
        raise InputError(f"request {request_id} does not ask for an accounting of disclosures")
    pid = heading.patient_id
    mrn = ReportDirectory(vault.gateway, reader(purpose_of(vault, request_id))).mrns([pid]).get(pid)
    if mrn is None:
        raise InputError(f"request {request_id}: the patient's records were destroyed; no accounting can be made here")
    return release.accounting(vault, mrn, request_folder(vault, request_id), site, pdf=pdf, request_id=request_id,
                              by=by)

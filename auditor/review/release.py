"""Release of information as use cases (45 CFR 164.524, 164.508, 164.512, 164.528): log a request,
review it, record a permission, fulfil or deny it (its packet or letter written with the change or
not at all), extend it once, close it; the coordinator's queue; the patient's accounting of
disclosures and its suspensions. Each change is one unit of work of the release desk (svc:roi); the
day is the organisation's today unless one is given. `policy`: the ROI policy (policies/roi/)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Iterator

from auditor.home import Vault
from auditor.phi_files import private_folder
from auditor.reporting.templates import Site
from auditor.roi import accounting as disclosures
from auditor.roi import fulfilment, workflow
from auditor.roi.accounting import Accounting
from auditor.roi.fulfilment import Fulfilment
from auditor.roi.permissions import Permission
from auditor.roi.policy import RoiPolicy, load_roi_policy
from auditor.roi.queue import QueueEntry, queue
from auditor.roi.workflow import NewRequest
from auditor.vault.gateway.release import ReleaseDesk


def _desk(vault: Vault) -> ReleaseDesk:
    return ReleaseDesk(vault.gateway)


@contextmanager
def _folder(out: Path) -> Iterator[Path]:
    """The folder for a packet, letter or accounting (made 0700 when new); a new one is removed again,
    empty, when the change fails (its files are never left without it)."""
    new = not Path(out).exists()
    private_folder(out)
    try:
        yield out
    except BaseException:
        if new:
            try:
                Path(out).rmdir()
            except OSError:  # not empty after all: leave what is there
                pass
        raise


def open_request(vault: Vault, new: NewRequest, by: str, policy: RoiPolicy | None = None) -> int:
    """Log a new request (received today unless `new.received_on` says); its id."""
    new = new if new.received_on is not None else replace(new, received_on=vault.today())
    return workflow.open_request(_desk(vault), policy or load_roi_policy(), new, by)


def review_request(vault: Vault, request_id: int, by: str, waiting_for: str | None = None) -> str:
    """Start (or resume) the review, or park the request waiting for information; its new status."""
    return workflow.review(_desk(vault), request_id, by, waiting_for)


def authorize(vault: Vault, request_id: int, permission: Permission, by: str, on: date | None = None,
              policy: RoiPolicy | None = None) -> int:
    """Record a permission checked on `on` (today); refused with every missing element named. Its id."""
    return workflow.attach_permission(_desk(vault), policy or load_roi_policy(), request_id, permission, by,
                                      on or vault.today())


def fulfil(vault: Vault, request_id: int, by: str, out: Path, site: Site, policy: RoiPolicy | None = None) -> Fulfilment:
    """Approve (in full or in part) and release today: the packet's files in `out`, the ledger entry."""
    with _folder(out):
        return fulfilment.fulfil(_desk(vault), policy or load_roi_policy(), site, request_id, by, vault.today(), out)


def deny(vault: Vault, request_id: int, basis: str, by: str, contact: str, out: Path, site: Site,
         policy: RoiPolicy | None = None) -> list[Path]:
    """Deny the request today and write the letter into `out`; the letter's files."""
    with _folder(out):
        return fulfilment.deny(_desk(vault), policy or load_roi_policy(), site, request_id, basis, by, vault.today(),
                               contact, out)


def extend(vault: Vault, request_id: int, notice_on: date, reason: str, by: str,
           policy: RoiPolicy | None = None) -> date:
    """The one extension, with the written notice; the new due date."""
    return workflow.extend(_desk(vault), policy or load_roi_policy(), request_id, notice_on, reason, by)


def close(vault: Vault, request_id: int, by: str) -> None:
    workflow.close(_desk(vault), request_id, by)


def request_queue(vault: Vault, as_of: date | None = None, within: int = 7) -> list[QueueEntry]:
    """Open requests, overdue first, then by due date, measured on `as_of` (today)."""
    return queue(vault.records, as_of or vault.today(), within)


def accounting(vault: Vault, mrn: str, out: Path, site: Site, *, first_day: date | None = None,
               as_of: date | None = None, pdf: bool = True, request_id: int | None = None,
               by: str | None = None) -> Accounting:
    """The patient's accounting of disclosures up to `as_of` (today), local days of the organisation,
    written into `out`; with `request_id`, the request it answers is fulfilled in the same unit."""
    with _folder(out):
        return disclosures.accounting_of_disclosures(_desk(vault), site, mrn, as_of or vault.today(), out,
                                                     first_day=first_day, tz=vault.timezone, pdf=pdf,
                                                     request_id=request_id, by=by)


def suspend(vault: Vault, mrn: str, agency: str, first_day: date, last_day: date, written: bool, by: str) -> int:
    """Suspend the accounting of disclosures to an agency (45 CFR 164.528(a)(2)); the suspension's id."""
    return disclosures.suspend(_desk(vault), mrn, agency, first_day, last_day, written, by)

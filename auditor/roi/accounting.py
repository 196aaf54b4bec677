"""The patient's accounting of disclosures (45 CFR 164.528): six years back (or a shorter period asked
for), exempt disclosures left out, repeated disclosures to one recipient for one purpose as one entry
with their frequency and last date, and disclosures to an agency that asked for a suspension left out
while it lasts (an oral request at most 30 days unless confirmed in writing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from auditor.errors import InputError
from auditor.reporting.templates import Site
from auditor.reporting.writers import html_to_pdf, render_html
from auditor.roi.workflow import move
from auditor.vault.gateway.release import ReleaseChange, ReleaseDesk
from auditor.vault.records import AccountingSuspension

LOOKBACK_YEARS = 6  # 164.528(a)(1)
# HL7 v3 ActReason purpose-of-use codes of the ledger, in the words a patient reads (164.528(b)(2)(iv)).
PURPOSE_TEXT = {"PATRQT": "at your request", "PWATRNY": "at your representative's request",
                "HLEGAL": "judicial or administrative proceeding", "GOV": "law enforcement",
                "PUBHLTH": "public health", "TREAT": "treatment", "HPAYMT": "payment"}
ORAL_SUSPENSION_DAYS = 30  # 164.528(a)(2)(ii)


def six_years_before(day: date) -> date:
    try:
        return day.replace(year=day.year - LOOKBACK_YEARS)
    except ValueError:  # 29 February
        return day.replace(year=day.year - LOOKBACK_YEARS, day=28)


@dataclass(frozen=True)
class Suspension:
    agency: str
    starts_on: date
    ends_on: date


def suspend(desk: ReleaseDesk, mrn: str, agency: str, starts_on: date, ends_on: date, written: bool, by: str) -> int:
    if not agency.strip():
        raise InputError("a suspension names the agency that asked for it")
    if ends_on < starts_on:
        raise InputError("the suspension ends before it starts")
    if not written and (ends_on - starts_on).days > ORAL_SUSPENSION_DAYS:
        raise InputError("an oral request suspends the accounting for at most 30 days unless confirmed in writing "
                         "(45 CFR 164.528(a)(2)(ii))")

    def work(change: ReleaseChange) -> int:
        row = AccountingSuspension(patient_id=change.patient_id(mrn), agency=agency.strip()[:128], starts_on=starts_on,
                                   ends_on=ends_on, written=written, created_at=change.at)
        change.session.add(row)
        change.session.flush()
        change.wrote("roi_accounting_suspensions", "create", [row.id])
        change.record("accounting_suspension", row.id, f"until {ends_on.isoformat()}; by {by}", action="create",
                      patient_id=row.patient_id)
        return row.id

    return desk.change("create", work)


def summarise(ledger: list[dict], first_day: date, last_day: date, suspensions: list[Suspension],
              as_of: date, tz=timezone.utc) -> tuple[list[dict], int]:
    """Accountable entries in the period (local days of `tz`) grouped by recipient and purpose (164.528(b)(3)),
    and how many were left out for a suspension in force on `as_of`."""
    active = {s.agency.casefold() for s in suspensions if s.starts_on <= as_of <= s.ends_on}
    groups: dict[tuple, dict] = {}
    suspended = 0
    for e in ledger:
        day = e["at"].astimezone(tz).date()
        if not e["accountable"] or not first_day <= day <= last_day:
            continue
        name = str(e["recipient"].get("name", ""))
        if name.casefold() in active:
            suspended += 1
            continue
        key = (name.casefold(), e["purpose"])
        g = groups.setdefault(key, {"first": e["at"], "last": e["at"], "count": 0, "recipient": name,
                                    "address": e["recipient"].get("address", ""),
                                    "purpose": PURPOSE_TEXT.get(e["purpose"], e["purpose"]),
                                    "legal_basis": e["legal_basis"], "description": e["description"]})
        g["count"] += 1
        g["last"] = max(g["last"], e["at"])
    return sorted(groups.values(), key=lambda g: g["first"]), suspended


@dataclass(frozen=True)
class Accounting:
    entries: int
    suspended: int  # disclosures left out for a suspension in force
    paths: list[Path]  # accounting.html (and .pdf)


def accounting_of_disclosures(desk: ReleaseDesk, site: Site, mrn: str, as_of: date, out: Path, *,
                              first_day: date | None = None, tz=timezone.utc, pdf: bool = True,
                              request_id: int | None = None, by: str | None = None) -> Accounting:
    """Write the patient's accounting into the folder `out`; with `request_id`, the request (164.528(c))
    it answers is approved and fulfilled. One transaction: the reads' audit events, the request's new
    status and the files exist together or not at all."""
    first_day = first_day or six_years_before(as_of)
    if first_day < six_years_before(as_of):
        raise InputError("an accounting looks back at most six years (45 CFR 164.528(a)(1))")
    if request_id is not None and not by:
        raise InputError("answering a request needs who answers it (the signed-in account)")
    since = datetime.combine(first_day, time(), tz) - timedelta(days=1)  # local days: a day's margin, cut below

    def work(change: ReleaseChange) -> Accounting:
        pid = change.patient_id(mrn)
        ledger = change.ledger(pid, since)
        suspensions = [Suspension(r.agency, r.starts_on, r.ends_on) for r in change.session.execute(
            select(AccountingSuspension).where(AccountingSuspension.patient_id == pid)).scalars()]
        entries, suspended = summarise(ledger, first_day, as_of, suspensions, as_of, tz)
        if request_id is not None:
            _answer(change, request_id, pid, len(entries), by)  # type: ignore[arg-type]
        patient = change.demographics(pid)
        context = {"site": site, "title": "Accounting of disclosures", "entries": entries, "suspended": suspended,
                   "patient": {"name": " ".join(x for x in (patient.first_name, patient.last_name) if x),
                               "mrn": patient.mrn},
                   "period": {"label": f"{first_day:%Y-%m-%d} to {as_of:%Y-%m-%d}"}, "today": as_of}
        return Accounting(len(entries), suspended, change.stage(out, render_accounting(site, context, pdf)))

    return desk.change("view" if request_id is None else "update", work)


def _answer(change: ReleaseChange, request_id: int, patient_id: int, entries: int, by: str) -> None:
    """Record that an accounting request was answered: approved, then fulfilled."""
    request = change.request(request_id)
    if request.kind != "accounting" or request.patient_id != patient_id:
        raise InputError(f"request {request_id} is not this patient's request for an accounting")
    if request.status in ("received", "waiting_for_information"):
        raise InputError(f"request {request_id} is {request.status}: start the review first: "
                         f"auditor roi review {request_id}")
    if request.status == "in_review":
        move(change, request, "approved", by)
    move(change, request, "fulfilled", by, f"accounting of {entries} entr{'y' if entries == 1 else 'ies'}")


def render_accounting(site: Site, context: dict, pdf: bool = True) -> dict[str, str | bytes]:
    html = render_html(site, "roi/accounting.html", context)
    files: dict[str, str | bytes] = {"accounting.html": html}
    if pdf:
        files["accounting.pdf"] = html_to_pdf(html)
    return files

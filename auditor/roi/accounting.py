"""The patient's accounting of disclosures (45 CFR 164.528): six years back (or a shorter period asked
for), exempt disclosures left out, repeated disclosures to one recipient for one purpose as one entry
with their frequency and last date, and disclosures to an agency that asked for a suspension left out
while it lasts (an oral request at most 30 days unless confirmed in writing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

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
        change.events.append(change.gateway._event(change.ctx, change.actor, "create", change.at,
                                                   patient_id=row.patient_id, record_type="accounting_suspension",
                                                   record_id=str(row.id), detail=f"until {ends_on.isoformat()}; by {by}"))
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


def accounting(desk: ReleaseDesk, site: Site, mrn: str, as_of: date, first_day: date | None = None,
               tz=timezone.utc) -> dict:
    """The accounting's report context (the read of the ledger and of the patient is audited)."""
    first_day = first_day or six_years_before(as_of)
    if first_day < six_years_before(as_of):
        raise InputError("an accounting looks back at most six years (45 CFR 164.528(a)(1))")
    since = datetime.combine(first_day, time(), tz) - timedelta(days=1)  # local days: a day's margin, cut below
    pid, ledger = desk.ledger(mrn, since)
    with desk.gateway.records.connect() as conn:
        suspensions = [Suspension(r.agency, r.starts_on, r.ends_on) for r in conn.execute(
            select(AccountingSuspension).where(AccountingSuspension.patient_id == pid))]
    entries, suspended = summarise(ledger, first_day, as_of, suspensions, as_of, tz)
    patient = desk.demographics(mrn)
    return {"site": site, "title": "Accounting of disclosures", "entries": entries, "suspended": suspended,
            "patient": {"name": " ".join(x for x in (patient.first_name, patient.last_name) if x), "mrn": patient.mrn},
            "period": {"label": f"{first_day:%Y-%m-%d} to {as_of:%Y-%m-%d}"}, "today": as_of, "patient_id": pid}


def answer_request(desk: ReleaseDesk, request_id: int, patient_id: int, entries: int, by: str) -> None:
    """Record that an accounting request (164.528(c)) was answered: approved, then fulfilled."""

    def work(change: ReleaseChange) -> None:
        request = change.request(request_id)
        if request.kind != "accounting" or request.patient_id != patient_id:
            raise InputError(f"request {request_id} is not this patient's request for an accounting")
        if request.status in ("received", "waiting_for_information"):
            raise InputError(f"request {request_id} is {request.status}: start the review first: "
                             f"auditor roi review {request_id}")
        if request.status == "in_review":
            move(change, request, "approved", by)
        move(change, request, "fulfilled", by, f"accounting of {entries} entr{'y' if entries == 1 else 'ies'}")

    desk.change("update", work)


def render_accounting(site: Site, context: dict, pdf: bool = True) -> dict[str, str | bytes]:
    html = render_html(site, "roi/accounting.html", context)
    files: dict[str, str | bytes] = {"accounting.html": html}
    if pdf:
        files["accounting.pdf"] = html_to_pdf(html)
    return files

"""The FHIR endpoint for system accounts (auditor.web.fhir_api): AuditEvents in (the IHE ATX:FHIR Feed:
`POST /fhir/AuditEvent`, a batch Bundle to `POST /fhir`) and a patient's access events out
(`POST /fhir/AuditEvent/_search`). Routes parse, call auditor.review.fhir_feed, render FHIR JSON.

No PHI in a URL: an MRN is a search parameter, so the search takes it in a form body (FHIR's POST
_search exists for this); `GET /fhir/AuditEvent?patient=...` is answered 400 without reading or
echoing the value, and the access log names the route pattern only (auditor.web.security)."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qsl

from starlette.responses import Response

from auditor.errors import InputError
from auditor.review import fhir_feed
from auditor.web.fhir_api import Api, ApiCall, fhir_json, outcome

FORM = "application/x-www-form-urlencoded"
BATCH_BODY = 16 << 20  # MAX_ENTRIES AuditEvents of a few kilobytes each
STATUS = {200: "200 OK", 201: "201 Created", 400: "400 Bad Request", 409: "409 Conflict",
          422: "422 Unprocessable Entity"}
ISSUE = {200: "informational", 201: "informational", 400: "structure", 409: "duplicate", 422: "business-rule"}


def _entry_outcome(received: fhir_feed.Received) -> dict:
    severity = "information" if received.accepted else "error"
    return {"resourceType": "OperationOutcome", "issue": [
        {"severity": severity, "code": ISSUE[received.status], "diagnostics": received.diagnostics}]}


def create_audit_event(call: ApiCall) -> Response:
    """One AuditEvent: 201 once it is in the log (200 when it was already), else 4xx and quarantined."""
    (received,) = fhir_feed.receive(call.office.vault, call.account, [fhir_feed.one_event(call.body)])
    return fhir_json(_entry_outcome(received), received.status)


def batch(call: ApiCall) -> Response:
    """A batch Bundle of AuditEvent creates: a batch-response Bundle with each entry's status."""
    document, problem = fhir_feed.parse_json(call.body)
    problem = problem or fhir_feed.bundle_problem(document)
    if problem is not None:
        return outcome(400, problem, "structure")
    done = fhir_feed.receive(call.office.vault, call.account, fhir_feed.batch_entries(document))
    return fhir_json({"resourceType": "Bundle", "type": "batch-response", "entry": [
        {"response": {"status": STATUS[r.status], "outcome": _entry_outcome(r)}} for r in done]})


def search_in_url(call: ApiCall) -> Response:
    """A search by GET would put the patient's MRN in the URL: refused, the value neither read nor echoed."""
    return outcome(400, "search with POST /fhir/AuditEvent/_search and the parameters in a form body "
                        f"({FORM}): an MRN does not belong in a URL", "not-supported")


def search(call: ApiCall) -> Response:
    """A patient's access events: `patient=<MRN>`, optional `date=geYYYY-MM-DD` / `date=leYYYY-MM-DD`."""
    patient, first, last = _search_parameters(call.body)
    found = fhir_feed.patient_events(call.office.vault, call.account, patient, first, last)
    entries = [{"resource": e, "search": {"mode": "match"}} for e in found.events]
    if found.capped:
        entries.append({"resource": {"resourceType": "OperationOutcome", "issue": [{
            "severity": "warning", "code": "too-costly",
            "diagnostics": f"{found.total:,} events matched; the newest {len(found.events):,} are given: "
                           "narrow the date range for the others"}]}, "search": {"mode": "outcome"}})
    return fhir_json({"resourceType": "Bundle", "type": "searchset", "total": found.total, "entry": entries})


def _search_parameters(body: bytes) -> tuple[str, date | None, date | None]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), strict_parsing=bool(body), max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        raise InputError(f"the search parameters are a {FORM} body") from None
    patients = [v for k, v in pairs if k == "patient"]
    unknown = sorted({k for k, _ in pairs} - {"patient", "date"})
    if unknown:
        raise InputError(f"parameters this search does not take: {', '.join(unknown)} (it takes patient and date)")
    if len(patients) != 1 or not patients[0].strip():
        raise InputError("give one patient=<MRN>")
    first = last = None
    for value in (v for k, v in pairs if k == "date"):
        prefix, day = value[:2], _day(value[2:])
        if prefix == "ge":
            first = day
        elif prefix == "le":
            last = day
        else:
            raise InputError("date takes ge or le and a day (date=ge2026-11-01&date=le2026-11-30)")
    return patients[0], first, last


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError("date takes ge or le and a day (date=ge2026-11-01&date=le2026-11-30)") from None


API: list[Api] = [
    Api("/fhir/AuditEvent", "fhir_create_audit_event", create_audit_event, "feed"),
    Api("/fhir", "fhir_batch", batch, "feed", max_body=BATCH_BODY),
    Api("/fhir/AuditEvent", "fhir_search_in_url", search_in_url, "search", methods=("GET",)),
    Api("/fhir/AuditEvent/_search", "fhir_search", search, "search", media=(FORM,), max_body=4096),
]

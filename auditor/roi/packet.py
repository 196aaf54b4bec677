"""The release packet (cover letter, index, the documents, the Part 2 notice where due, the invoice) and
the denial letter, rendered with the reporting layer (reports/roi/*.html) as HTML and PDF; for
electronic requests a FHIR R4 Bundle of the documents, validated with fhir.resources.R4B."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime

from auditor.errors import InputError
from auditor.reporting.templates import Site
from auditor.reporting.writers import html_to_pdf, render_html
from auditor.roi.fees import invoice_lines, total
from auditor.roi.permissions import Permission
from auditor.roi.policy import RoiPolicy
from auditor.roi.scope import Scope
from auditor.vault.gateway.release import Release
from auditor.vault.gateway.sealing import PatientDemographics

PART2_SENSITIVITY = "substance_use"


@dataclass
class Packet:
    """The files of a packet by name (HTML and JSON as text, PDF as bytes); all hold PHI."""

    files: dict[str, str | bytes] = field(default_factory=dict)


def _patient(p: PatientDemographics) -> dict:
    return {"name": " ".join(x for x in (p.first_name, p.last_name) if x) or "(name not recorded)", "mrn": p.mrn,
            "birth_date": str(p.birth_date or "")}


def _request(request) -> dict:
    return {"id": request.id, "requester_type": request.requester_type.replace("_", " "), "kind": request.kind,
            "received_on": request.received_on, "due_on": request.due_on, "format": request.format,
            "record_types": ", ".join(json.loads(request.record_types)) or "all record types",
            "dates": f"{request.first_day or 'any date'} to {request.last_day or 'any date'}"}


def release_packet(site: Site, policy: RoiPolicy, request, requester: dict, released: Release,
                   withheld: dict[str, str], scope: Scope, permissions: list[Permission], on: date,
                   at: datetime) -> Packet:
    """`permissions`: the valid ones the release relied on; their scope goes with the records (42 CFR 2.32(b))."""
    documents = [{"n": i, "type": d.doc_type, "sensitivity": d.sensitivity, "recorded": d.recorded_at,
                  "title": d.title or "", "body": d.body or ""} for i, d in enumerate(released.documents, 1)]
    pages = 2 + len(documents)  # cover letter and index, then one page a document
    lines = invoice_lines(request.kind, request.format, pages, policy.fees)
    part2 = any(d.sensitivity == PART2_SENSITIVITY for d in released.documents)
    context = {"site": site, "title": f"Release of information, request {request.id}", "request": _request(request),
               "requester": requester, "patient": _patient(released.patient), "documents": documents,
               "withheld": [{"sensitivity": s.replace("_", " "), "why": why} for s, why in sorted(withheld.items())],
               "invoice": [{"what": line.what, "amount": f"{line.amount:.2f}"} for line in lines],
               "total": f"{total(lines):.2f}", "part2_notice": policy.part2_notice if part2 else None,
               "permissions": [k.replace("_", " ") for k in scope.permissions_used], "today": on,
               "scope": [{"kind": p.kind.replace("_", " "), "covers": ", ".join(p.covers).replace("_", " "),
                          "signed_on": p.signed_on, "expires": p.expires_on or p.values.get("expiration") or "not stated"}
                         for p in permissions],
               "generated_at": at}
    html = render_html(site, "roi/release.html", context)
    packet = Packet({"release-packet.html": html, "release-packet.pdf": html_to_pdf(html)})
    if request.format == "fhir":
        packet.files["bundle.json"] = fhir_bundle(request.id, released, at)
    return packet


def denial_packet(site: Site, request, requester: dict, patient: PatientDemographics, basis: str, reviewable: bool,
                  contact: str, on: date) -> Packet:
    context = {"site": site, "title": f"Denial of request {request.id}", "request": _request(request),
               "requester": requester, "patient": _patient(patient), "basis": basis, "reviewable": reviewable,
               "contact": contact, "today": on}
    html = render_html(site, "roi/denial.html", context)
    return Packet({"denial-letter.html": html, "denial-letter.pdf": html_to_pdf(html)})


def fhir_bundle(request_id: int, released: Release, at: datetime) -> str:
    """A FHIR R4 collection Bundle: the Patient and one DocumentReference per released document."""
    p = released.patient
    patient = {"resourceType": "Patient", "id": "patient",
               "identifier": [{"type": {"text": "MRN"}, "value": p.mrn}],
               "name": [{"family": p.last_name or None, "given": [p.first_name] if p.first_name else None}]}
    patient["name"] = [{k: v for k, v in patient["name"][0].items() if v}]
    if p.birth_date:
        patient["birthDate"] = str(p.birth_date)
    entries = [{"fullUrl": "urn:uuid:patient", "resource": patient}]
    for i, d in enumerate(released.documents, 1):
        body = (d.body or "").encode("utf-8")
        entries.append({"fullUrl": f"urn:uuid:document-{i}", "resource": {
            "resourceType": "DocumentReference", "id": f"document-{i}", "status": "current",
            "type": {"text": d.doc_type}, "subject": {"reference": "urn:uuid:patient"},
            "date": d.recorded_at.isoformat(), "description": d.title or d.doc_type,
            "securityLabel": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                           "code": _LABELS[d.sensitivity]}]}] if d.sensitivity in _LABELS else [],
            "content": [{"attachment": {"contentType": "text/plain; charset=utf-8",
                                        "data": base64.b64encode(body).decode("ascii"), "title": d.title or d.doc_type}}]}})
        if not entries[-1]["resource"]["securityLabel"]:
            del entries[-1]["resource"]["securityLabel"]
    bundle = {"resourceType": "Bundle", "id": f"roi-request-{request_id}", "type": "collection",
              "timestamp": at.isoformat(), "entry": entries}
    validate_r4_bundle(bundle)
    return json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"


_LABELS = {"substance_use": "42CFRPart2", "mental_health": "PSY", "hiv": "HIV", "genetic": "GDIS",
           "psychotherapy_note": "PSY"}


def validate_r4_bundle(bundle: dict) -> None:
    try:
        from fhir.resources.R4B.bundle import Bundle
    except ImportError:
        raise InputError("electronic (FHIR) packets need the fhir.resources package: pip install fhir.resources") from None
    try:
        Bundle.model_validate(bundle)
    except Exception as exc:  # pydantic ValidationError; its text may quote values, so only its kind
        raise InputError(f"the FHIR R4 Bundle does not validate ({type(exc).__name__})") from None

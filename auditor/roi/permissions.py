"""Permissions on file for a request, checked against the checklists of policies/roi/authorization.yaml:
authorizations (45 CFR 164.508(c)), psychotherapy-note authorizations (164.508(a)(2)), Part 2
consents (42 CFR 2.31), court orders and satisfactory assurances (164.512(e)).

A form is a YAML or JSON mapping: `kind`, `covers` (sensitivities), the checklist's element and
statement ids, `signed_on`, `expires_on` or `expiration_event`, `revoked_on`, and for a
representative's signature `representative_authority`. FHIR R4 Consent resources are read too."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from auditor import yaml_files
from auditor.errors import InputError
from auditor.roi.policy import PERMISSIONS, RoiPolicy
from auditor.vault.records import SENSITIVITIES


@dataclass(frozen=True)
class Permission:
    kind: str
    covers: tuple[str, ...]
    values: dict = field(default_factory=dict)  # element and statement ids -> what the form says
    signed_on: date | None = None
    expires_on: date | None = None
    revoked_on: date | None = None
    source: str = "form"


@dataclass(frozen=True)
class Defect:
    element: str
    text: str
    citation: str

    def __str__(self) -> str:
        return f"{self.element} ({self.text}; {self.citation})"


def _date(value, what: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InputError(f"{what} is not a YYYY-MM-DD date") from None


def from_form(doc: dict) -> Permission:
    if not isinstance(doc, dict):
        raise InputError("an authorization form must be a mapping of its elements")
    kind = str(doc.get("kind", "authorization"))
    if kind not in PERMISSIONS:
        raise InputError(f"unknown permission kind {kind!r}; one of {', '.join(PERMISSIONS)}")
    covers = tuple(doc.get("covers") or ("general",))
    unknown = sorted(set(covers) - set(SENSITIVITIES))
    if unknown:
        raise InputError(f"unknown record sensitivity {unknown[0]!r} in covers")
    values = {k: v for k, v in doc.items() if k not in {"kind", "covers", "signed_on", "expires_on", "revoked_on"}}
    if doc.get("expires_on") or doc.get("expiration_event"):
        values["expiration"] = doc.get("expires_on") or doc.get("expiration_event")
    return Permission(kind, covers, values, _date(doc.get("signed_on"), "signed_on"),
                      _date(doc.get("expires_on"), "expires_on"), _date(doc.get("revoked_on"), "revoked_on"))


def read_form(path: Path) -> Permission:
    try:
        text = Path(path).read_text(encoding="utf-8")
        doc = json.loads(text) if str(path).endswith(".json") else yaml_files.load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the form ({type(exc).__name__})") from None
    if isinstance(doc, dict) and doc.get("resourceType") == "Consent":
        return from_fhir_consent(doc)
    return from_form(doc)


def defects(permission: Permission, policy: RoiPolicy, on: date) -> list[Defect]:
    """Every reason the permission cannot be relied on, on `on`: each missing element named,
    expiry, revocation, and improper combination (164.508(b)(2), (b)(3))."""
    checklist = policy.checklists[permission.kind]
    out = [Defect(i.id, i.text, i.citation) for i in (*checklist.elements, *checklist.statements)
           if not _present(permission.values.get(i.id)) and not (i.id == "signed_on" and permission.signed_on)]
    if permission.values.get("signed_by_representative") and not _present(permission.values.get("representative_authority")):
        out.append(Defect("representative_authority", "a description of the representative's authority",
                          "164.508(c)(1)(vi)"))
    if permission.expires_on is not None and permission.expires_on < on:
        out.append(Defect("expired", f"expired on {permission.expires_on.isoformat()}", "164.508(b)(2)(i)"))
    if permission.revoked_on is not None and permission.revoked_on <= on:
        out.append(Defect("revoked", f"revoked on {permission.revoked_on.isoformat()}", "164.508(b)(2)(iv), (b)(5)"))
    if permission.signed_on is not None and permission.signed_on > on:
        out.append(Defect("signed_on", "signed after the day it is checked on", "164.508(b)(2)(v)"))
    if "psychotherapy_note" in permission.covers and (
            permission.kind != "psychotherapy_authorization" or set(permission.covers) != {"psychotherapy_note"}):
        out.append(Defect("combined", "psychotherapy notes need their own authorization, not combined with other "
                          "information", "164.508(b)(3)(ii)"))
    if permission.kind == "psychotherapy_authorization" and set(permission.covers) != {"psychotherapy_note"}:
        out.append(Defect("covers", "a psychotherapy-note authorization covers psychotherapy notes only",
                          "164.508(b)(3)(ii)"))
    return out


def _present(value) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return value not in (None, False, [], {})


# -- FHIR R4 Consent --------------------------------------------------------------------------------
_PART2_LABELS = {"42CFRPart2", "ETH"}
_SENSITIVITY_LABELS = {"42CFRPart2": "substance_use", "ETH": "substance_use", "PSY": "mental_health",
                       "PSYTHPN": "psychotherapy_note", "HIV": "hiv", "GDIS": "genetic"}


def _codes(concepts) -> list[str]:
    out = []
    for concept in concepts or []:
        out += [c.get("code") for c in (concept.get("coding") or [concept]) if c.get("code")]
    return out


def _validate_r4(doc: dict) -> None:
    try:
        from fhir.resources.R4B.consent import Consent
    except ImportError:  # fhir.resources is optional: the fields below are then read by hand
        return
    try:
        Consent.model_validate(doc)
    except Exception as exc:  # pydantic's ValidationError: say which kind, never the values
        raise InputError(f"not a valid FHIR R4 Consent ({type(exc).__name__})") from None


def from_fhir_consent(doc: dict) -> Permission:
    """A FHIR R4 Consent as a permission. Status other than active is a revocation (inactive) or
    refusal; security labels 42CFRPart2/ETH make it a Part 2 consent. The required statements are not
    FHIR elements: they count as present only when the signed form is attached (sourceAttachment)."""
    _validate_r4(doc)
    if doc.get("status") not in ("active", "inactive"):
        raise InputError(f"the Consent's status is {doc.get('status')!r}: it permits nothing")
    provision = doc.get("provision") or {}
    nested = provision.get("provision") or []
    actors = [*(provision.get("actor") or []), *(a for p in nested if p.get("type") != "deny" for a in p.get("actor") or [])]
    labels = _codes(provision.get("securityLabel")) + [c for p in nested for c in _codes(p.get("securityLabel"))]
    covers = sorted({_SENSITIVITY_LABELS[label] for label in labels if label in _SENSITIVITY_LABELS} | {"general"})
    kind = "part2_consent" if _PART2_LABELS & set(labels) else "authorization"
    period = provision.get("period") or {}
    purposes = _codes([{"coding": provision.get("purpose") or []}]) + [c for p in nested for c in _codes(
        [{"coding": p.get("purpose") or []}])]
    described = _codes(provision.get("class") and [{"coding": provision["class"]}]) + _codes(provision.get("code"))
    described += [c for p in nested for c in _codes(p.get("code")) + [x.get("code") for x in p.get("class") or []]]
    signed = bool(doc.get("performer")) or bool(doc.get("sourceAttachment"))
    statements = bool(doc.get("sourceAttachment"))
    values = {
        "description": ", ".join(c for c in described if c) or None,
        "disclosing_party": ", ".join(o.get("reference", o.get("display", "")) for o in doc.get("organization") or []),
        "recipient": ", ".join(a.get("reference", {}).get("reference", "") for a in actors),
        "purpose": ", ".join(purposes) or None, "expiration": period.get("end"),
        "signature": signed, "patient_name": (doc.get("patient") or {}).get("reference"),
        "statement_revocation": statements, "statement_conditioning": statements, "statement_redisclosure": statements,
        "fhir_id": doc.get("id"),
    }
    revoked = _date(doc.get("dateTime"), "Consent.dateTime") if doc.get("status") == "inactive" else None
    return Permission(kind, tuple(covers), values, _date(doc.get("dateTime"), "Consent.dateTime"),
                      _date(period.get("end"), "Consent.provision.period.end"), revoked, source="fhir")

"""Approve and fulfil a request in one transaction (the approval decision, the release through the
gateway, the disclosures ledger entry and the packet's files), or deny it with a letter: the files
take their names just before the commit, so a packet that cannot be written leaves the request as it
was and the ledger without an entry (and a retry can succeed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from auditor.errors import AccessDenied, InputError
from auditor.roi.packet import denial_packet, release_packet
from auditor.roi.policy import RoiPolicy
from auditor.roi.scope import release_scope, valid
from auditor.roi.workflow import move, permissions_of
from auditor.reporting.templates import Site
from auditor.vault.gateway.release import ReleaseChange, ReleaseDesk

# 45 CFR 164.524(a)(2) and (a)(3): unreviewable and reviewable grounds for denying access.
DENIAL_BASES = {
    "psychotherapy_notes": ("psychotherapy notes (45 CFR 164.524(a)(1)(i))", False),
    "litigation": ("information compiled in anticipation of litigation (45 CFR 164.524(a)(1)(ii))", False),
    "inmate_safety": ("an inmate's request that would endanger safety (45 CFR 164.524(a)(2)(ii))", False),
    "research": ("research in progress the patient agreed to (45 CFR 164.524(a)(2)(iii))", False),
    "privacy_act": ("records under the Privacy Act (45 CFR 164.524(a)(2)(iv))", False),
    "confidential_source": ("obtained from a confidential source (45 CFR 164.524(a)(2)(v))", False),
    "danger": ("likely to endanger the life or safety of the patient or another (45 CFR 164.524(a)(3)(i))", True),
    "harm_to_other": ("likely to cause substantial harm to a person referenced (45 CFR 164.524(a)(3)(ii))", True),
    "representative_harm": ("access by the representative likely to cause substantial harm "
                            "(45 CFR 164.524(a)(3)(iii))", True),
    "no_authorization": ("no valid authorization or legal basis for the disclosure (45 CFR 164.508, 164.512)", False),
}


@dataclass(frozen=True)
class Fulfilment:
    status: str  # approved or partly_approved, before fulfilled
    documents: int
    withheld: dict[str, str]
    disclosure_id: int
    paths: list[Path]  # the packet's files


def fulfil(desk: ReleaseDesk, policy: RoiPolicy, site: Site, request_id: int, by: str, on: date,
           out: Path) -> Fulfilment:
    """Release what the request may receive and write its packet into the folder `out`."""

    def work(change: ReleaseChange) -> Fulfilment:
        request = change.request(request_id)
        if request.kind == "accounting":
            raise InputError(f"request {request_id} asks for an accounting: answer it with auditor roi accounting")
        if request.status in ("received", "waiting_for_information"):
            raise InputError(f"request {request_id} is {request.status}: start the review first: auditor roi review {request_id}")
        if request.status not in ("in_review", "approved", "partly_approved"):
            raise InputError(f"request {request_id} is {request.status}: it cannot be fulfilled")
        rule = policy.requesters[request.requester_type]
        permissions = valid(permissions_of(change, request), policy, on)
        scope = release_scope(request.requester_type, request.legal_process, permissions, policy, on)
        if scope.refusal:
            raise InputError(f"request {request_id} cannot be fulfilled: {scope.refusal}")
        if not change.gateway.policy.decide_service("roi", "disclose", rule.purpose).allowed:
            raise AccessDenied(f"svc:roi may not disclose for purpose {rule.purpose}")
        types = tuple(json.loads(request.record_types))
        released = change.release(request, rule.purpose, types, scope.sensitivities, request.first_day, request.last_day)
        withheld = {s: why for s, why in scope.withheld.items() if released.withheld.get(s)}
        if request.status == "in_review":  # everything not withheld is still released (164.524(d)(1))
            move(change, request, "partly_approved" if withheld else "approved", by,
                 ("withheld: " + ", ".join(sorted(withheld))) if withheld else None)
        status = request.status
        requester = change.requester_of(request)
        packet = release_packet(site, policy, request, requester, released, withheld, scope, permissions, on,
                                change.at)
        description = (f"{len(released.documents)} document(s): {', '.join(types) or 'all record types'}; "
                       f"{request.first_day or 'any date'} to {request.last_day or 'any date'}; format {request.format}")
        entry = change.add_disclosure(request, requester, purpose=rule.purpose, legal_basis=rule.legal_basis,
                                      accountable=rule.exempt is None, exemption=rule.exempt,
                                      description=description[:512], documents=len(released.documents))
        move(change, request, "fulfilled", by, f"{len(released.documents)} document(s); ledger entry {entry.id}")
        return Fulfilment(status, len(released.documents), withheld, entry.id, change.stage(out, packet.files))

    return desk.change("update", work)


def deny(desk: ReleaseDesk, policy: RoiPolicy, site: Site, request_id: int, basis: str, by: str, on: date,
         contact: str, out: Path) -> list[Path]:
    """Deny the request and write the letter into the folder `out`; the letter's files."""
    if basis not in DENIAL_BASES:
        raise InputError(f"unknown denial basis {basis!r}; one of {', '.join(DENIAL_BASES)}")

    def work(change: ReleaseChange) -> list[Path]:
        request = change.request(request_id)
        move(change, request, "denied", by, f"basis {basis}")
        requester = change.requester_of(request)
        text, reviewable = DENIAL_BASES[basis]
        letter = denial_packet(site, request, requester, desk.patient(change, request), text, reviewable, contact, on)
        return change.stage(out, letter.files)

    return desk.change("update", work)

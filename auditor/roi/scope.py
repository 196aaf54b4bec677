"""What a request may receive: the legal preconditions of its requester type and the sensitive
categories its permissions open (45 CFR 164.502(b) minimum necessary; 164.508(a)(2) psychotherapy
notes; 164.524(a)(1)(i); 42 CFR 2.31; 164.512(e)(1)(ii) satisfactory assurance)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from auditor.roi.permissions import Permission, defects
from auditor.roi.policy import RoiPolicy
from auditor.vault.records import SENSITIVITIES


@dataclass(frozen=True)
class Scope:
    refusal: str | None  # why nothing may be released; None: the request may be fulfilled
    sensitivities: frozenset[str] = frozenset()
    withheld: dict[str, str] = field(default_factory=dict)  # sensitivity -> why it is left out
    permissions_used: tuple[str, ...] = ()


def valid(permissions: list[Permission], policy: RoiPolicy, on: date) -> list[Permission]:
    return [p for p in permissions if not defects(p, policy, on)]


def release_scope(requester_type: str, legal_process: str | None, permissions: list[Permission],
                  policy: RoiPolicy, on: date) -> Scope:
    rule = policy.requesters[requester_type]
    usable = valid(permissions, policy, on)
    kinds = {p.kind for p in usable}
    if "authorization" in rule.needs and not kinds & {"authorization", "psychotherapy_authorization", "part2_consent"}:
        return Scope("no valid authorization on file (45 CFR 164.508(a)(1)); record one with: auditor roi authorize")
    if "legal_process" in rule.needs:
        if legal_process == "court_order" and "court_order" not in kinds:
            return Scope("no court order on file (45 CFR 164.512(e)(1)(i)); record it with: auditor roi authorize")
        if legal_process != "court_order" and not kinds & {"assurance", "authorization"}:
            return Scope("a subpoena without a court order needs satisfactory assurance recorded "
                         "(45 CFR 164.512(e)(1)(ii)); record it with: auditor roi authorize")
    allowed, withheld = {"general"}, {}
    for sensitivity in SENSITIVITIES:
        if sensitivity == "general":
            continue
        permission, citation = policy.sensitive.get(sensitivity, ("authorization", "45 CFR 164.508"))
        if rule.kind == "access" and sensitivity in policy.never_by_right_of_access:
            withheld[sensitivity] = "no right of access to psychotherapy notes (45 CFR 164.524(a)(1)(i))"
        elif rule.kind == "access" or not rule.sensitive_needs_permission:
            allowed.add(sensitivity)
        elif any(p.kind == permission and sensitivity in p.covers for p in usable):
            allowed.add(sensitivity)
        else:
            what = permission.replace("_", " ")
            withheld[sensitivity] = f"needs {'an' if what[0] in 'aeiou' else 'a'} {what} covering it ({citation})"
    return Scope(None, frozenset(allowed), withheld, tuple(sorted(kinds)))

"""The gateway's access-control policy (policies/access_control.yaml): role x record sensitivity x
treatment relationship, break-glass, service accounts. Loaded and validated once; decisions are pure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from auditor import yaml_files
from auditor.errors import ConfigurationError
from auditor.resources import POLICIES_DIR
from auditor.vault.records import ROLES, SENSITIVITIES

RELATIONSHIPS = ("care_team", "attending", "department", "operational", "any")


@dataclass(frozen=True)
class RoleRule:
    purposes: frozenset[str]  # purpose codes
    relationship: frozenset[str]
    sensitivities: frozenset[str]
    break_glass: bool


@dataclass(frozen=True)
class Decision:
    allowed: bool
    basis: str  # why: the relationship that allowed it, or the reason for the denial
    break_glass: bool = False


@dataclass(frozen=True)
class Windows:
    clinical_days_before: int
    clinical_days_after: int
    operational_days_before: int
    operational_days_after: int


class AccessPolicy:
    def __init__(self, roles: dict[str, RoleRule], services: dict[str, tuple[frozenset, frozenset]],
                 purposes: dict[str, str], windows: Windows,
                 staff: dict[str, tuple[frozenset, frozenset]] | None = None) -> None:
        self.roles, self.services, self.purpose_group, self.windows = roles, services, purposes, windows
        self.staff = staff or {}

    @classmethod
    def load(cls, path: Path | None = None) -> "AccessPolicy":
        path = path or POLICIES_DIR / "access_control.yaml"
        try:
            doc = yaml_files.load(path.read_text())
            purpose_group = {code: group for group, codes in doc["purposes"].items() for code in codes}

            def codes(groups: list[str], where: str) -> frozenset[str]:
                unknown = set(groups) - set(doc["purposes"])
                if unknown:
                    raise ConfigurationError(f"{path}: {where}: unknown purpose group(s) {sorted(unknown)}")
                return frozenset(c for g in groups for c in doc["purposes"][g])

            roles = {}
            for name, spec in doc["roles"].items():
                if name not in ROLES:
                    raise ConfigurationError(f"{path}: unknown role {name!r}")
                bad = (set(spec["relationship"]) - set(RELATIONSHIPS)) | (set(spec["sensitivities"]) - set(SENSITIVITIES))
                if bad:
                    raise ConfigurationError(f"{path}: role {name}: unknown value(s) {sorted(bad)}")
                roles[name] = RoleRule(codes(spec["purposes"], name), frozenset(spec["relationship"]),
                                       frozenset(spec["sensitivities"]), bool(spec["break_glass"]))
            missing = set(ROLES) - set(roles)
            if missing:
                raise ConfigurationError(f"{path}: no rule for role(s) {sorted(missing)}")
            services = {name: (frozenset(s["actions"]), codes(s["purposes"], f"service {name}"))
                        for name, s in doc["services"].items()}
            staff = {name: (frozenset(s["actions"]), codes(s["purposes"], f"staff {name}"))
                     for name, s in (doc.get("staff") or {}).items()}
            windows = Windows(**doc["windows"])
        except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"{path}: cannot load the access-control policy ({type(exc).__name__}: {exc})") from None
        return cls(roles, services, purpose_group, windows, staff)

    def known_purpose(self, code: str) -> bool:
        return code in self.purpose_group

    def decide_service(self, service: str, action: str, purpose: str) -> Decision:
        rule = self.services.get(service)
        if rule is None:
            return Decision(False, f"unknown service account svc:{service}")
        actions, purposes = rule
        if action not in actions or purpose not in purposes:
            return Decision(False, f"svc:{service} may not {action} for purpose {purpose}")
        return Decision(True, f"service account svc:{service}")

    def decide_staff(self, role: str, action: str, purpose: str, sensitivity: str) -> Decision:
        """May a member of the privacy office with staff `role` `action` a patient's `sensitivity` for
        `purpose`? Staff read demographics only, whatever the patient's flags: the office investigates
        every patient's accesses (and each of its reads is audited like anyone's)."""
        actions, purposes = self.staff.get(role, (frozenset(), frozenset()))
        if sensitivity != "demographics":
            return Decision(False, f"the privacy office's staff do not open {sensitivity} records")
        if action not in actions or purpose not in purposes:
            return Decision(False, f"staff role {role} may not {action} for purpose {purpose}")
        return Decision(True, f"privacy office ({role})")

    def decide(self, role: str, purpose: str, sensitivity: str, relationships: set[str], *, restricted: bool,
               break_glass: bool, reason: str | None) -> Decision:
        """May a workforce member with `role`, holding `relationships` to the patient, open a record of
        `sensitivity` for `purpose`?"""
        rule = self.roles[role]
        if purpose not in rule.purposes and not (break_glass and purpose in {"BTG", "ETREAT"}):
            return Decision(False, f"purpose {purpose} is not among those allowed to role {role}")
        if sensitivity != "demographics" and sensitivity not in rule.sensitivities:
            return Decision(False, f"role {role} may not open {sensitivity} records")
        usable = set(relationships)
        if restricted:  # the patient asked for restricted access (45 CFR 164.522(a)): not even "any" opens it
            usable &= {"care_team", "attending"}
        anyone = "any" in rule.relationship and not restricted
        granted = sorted(usable & rule.relationship) or (["any"] if anyone else [])
        if granted:
            return Decision(True, "+".join(granted))
        if break_glass:
            if not rule.break_glass:
                return Decision(False, f"role {role} may not break the glass")
            if not (reason and reason.strip()):
                return Decision(False, "break-glass needs a reason")
            if sensitivity == "psychotherapy_note":  # 45 CFR 164.508(a)(2): never by override
                return Decision(False, "psychotherapy notes cannot be opened by break-glass")
            return Decision(True, "break-glass", break_glass=True)
        what = "restricted patient: care team or attending only" if restricted else "no treatment relationship"
        return Decision(False, what)

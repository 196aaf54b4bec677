"""The release-of-information rules as data (policies/roi/*.yaml), loaded and checked once.

Deadlines (45 CFR 164.524(b)(2), 164.528(c)(1), state law), requester types with their legal basis
and accounting exemption (164.512, 164.528(a)), the permission checklists (164.508(c), 42 CFR 2.31)
and the fee schedule (164.524(c)(4))."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from auditor import yaml_files
from auditor.errors import ConfigurationError
from auditor.resources import POLICIES_DIR
from auditor.vault.records import SENSITIVITIES

KINDS = ("access", "disclosure", "accounting")
PERMISSIONS = ("authorization", "psychotherapy_authorization", "part2_consent", "court_order", "assurance")
_FORBIDDEN_FEES = ("search", "retriev")  # 164.524(c)(4): no search or retrieval fee


@dataclass(frozen=True)
class Deadline:
    days: int
    extension_days: int
    citation: str


@dataclass(frozen=True)
class RequesterRule:
    name: str
    kind: str
    purpose: str
    legal_basis: str
    exempt: str | None  # why its disclosures are left out of an accounting; None: accountable
    needs: tuple[str, ...]
    sensitive_needs_permission: bool


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    text: str
    citation: str


@dataclass(frozen=True)
class Checklist:
    kind: str
    citation: str
    elements: tuple[ChecklistItem, ...]
    statements: tuple[ChecklistItem, ...]


@dataclass(frozen=True)
class RoiPolicy:
    deadlines: dict[str, Deadline]
    state_deadlines: dict[str, dict[str, Deadline]]
    requesters: dict[str, RequesterRule]
    sensitive: dict[str, tuple[str, str]]  # sensitivity -> (permission kind, citation)
    never_by_right_of_access: frozenset[str]
    checklists: dict[str, Checklist]
    part2_notice: str
    fees: dict

    def deadline(self, kind: str, state: str | None) -> Deadline:
        return self.state_deadlines.get((state or "").upper(), {}).get(kind) or self.deadlines[kind]


def _read(path: Path) -> dict:
    try:
        doc = yaml_files.load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: cannot read ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise ConfigurationError(f"{path}: not a mapping")
    return doc


def _deadline(spec: dict) -> Deadline:
    return Deadline(int(spec["days"]), int(spec.get("extension_days", 0)), str(spec["citation"]))


def _checklists(doc: dict) -> dict[str, Checklist]:
    raw = doc["kinds"]
    out = {}
    for kind in PERMISSIONS:
        spec = raw[kind]
        base = raw[spec["same_as"]] if "same_as" in spec else spec
        items = lambda key: tuple(ChecklistItem(i["id"], i["text"], i["citation"]) for i in base.get(key, []))  # noqa: E731
        out[kind] = Checklist(kind, spec["citation"], items("elements"), items("statements"))
    return out


def _fees(doc: dict, path: Path) -> dict:
    names = list(doc.get("cost_based", {})) + [k for k in doc if k != "citation"]
    if any(bad in name for name in names for bad in _FORBIDDEN_FEES):
        raise ConfigurationError(f"{path}: a search or retrieval fee is not allowed (45 CFR 164.524(c)(4))")
    if float(doc["flat_electronic"]) > 6.50:
        raise ConfigurationError(f"{path}: the flat fee for electronic copies is at most $6.50")
    return doc


def load_roi_policy(folder: Path | None = None) -> RoiPolicy:
    folder = Path(folder or POLICIES_DIR / "roi")
    deadlines, requesters = _read(folder / "deadlines.yaml"), _read(folder / "requesters.yaml")
    checklist, fees = _read(folder / "authorization.yaml"), _read(folder / "fees.yaml")
    try:
        rules = {name: RequesterRule(name, s["kind"], s["purpose"], s["legal_basis"], s.get("exempt"),
                                     tuple(s.get("needs", ())), bool(s["sensitive_needs_permission"]))
                 for name, s in requesters["requesters"].items()}
        sensitive = {k: (v["permission"], v["citation"]) for k, v in requesters["sensitive"].items()}
        policy = RoiPolicy(
            deadlines={k: _deadline(v) for k, v in deadlines["kinds"].items()},
            state_deadlines={st.upper(): {k: _deadline(v) for k, v in kinds.items()}
                             for st, kinds in (deadlines.get("states") or {}).items()},
            requesters=rules, sensitive=sensitive,
            never_by_right_of_access=frozenset(requesters.get("never_by_right_of_access", ())),
            checklists=_checklists(checklist), part2_notice=str(checklist["part2_notice"]),
            fees=_fees(fees, folder / "fees.yaml"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"{folder}: the release-of-information policy is incomplete "
                                 f"({type(exc).__name__}: {exc})") from None
    problems = [f"requester {r.name}: unknown kind {r.kind}" for r in rules.values() if r.kind not in KINDS]
    problems += [f"unknown sensitivity {s}" for s in sensitive if s not in SENSITIVITIES]
    problems += [f"sensitivity {s}: unknown permission {p}" for s, (p, _) in sensitive.items() if p not in PERMISSIONS]
    problems += [f"no deadline for kind {k}" for k in KINDS if k not in policy.deadlines]
    if problems:
        raise ConfigurationError(f"{folder}: " + "; ".join(problems))
    return policy

"""Rules as data: policies/rules/<id>.yaml, one file per rule of the interchange contract, with the
engine's settings in policies/engine.yaml. A site overrides parameters, severity or status of our
rules, and adds rules of its own, from a folder it names, without editing ours.

Loading checks every file and raises one PolicyError listing every problem, each with file:line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from auditor.errors import ConfigurationError
from auditor.policy.context import ACCESS_ACTIONS, EngineSettings
from auditor.policy.detectors import REGISTRY
from auditor.policy.explanations import ExplanationPolicy
from auditor.policy.templates import SITE_FILE as TEMPLATES_FILE, read_approved
from auditor.policy.validation import PolicyFile, Problem, check_rule
from auditor.resources import POLICIES_DIR

# The rule ids of the interchange contract ("The rules"): outside checks use them as written.
SPEC_RULES = ("self-access", "family-access", "coworker-access", "neighbor-access", "vip-access",
              "no-treatment-relationship", "after-hours", "terminated-user-access", "excessive-volume",
              "break-glass-review", "deceased-patient-access", "sensitive-record-access", "bulk-export",
              "repeated-denials", "unusual-access")
ENGINE_FILE = "engine.yaml"
CASES_FILE = "cases.yaml"  # auditor.cases.settings
RUNNING = ("stable", "test", "experimental")
_WINDOWS = ("clinical_days_before", "clinical_days_after", "operational_days_before", "operational_days_after",
            "order_days_before", "order_days_after", "appointment_days_before", "appointment_days_after",
            "document_days_before", "document_days_after")
_SETS = ("operational_roles", "sensitive_record_types", "case_review_roles", "case_review_purposes", "cancelled_statuses")


class PolicyError(ConfigurationError):
    """Policy files with problems; `problems` lists every one, each with file:line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the policy files, the first: {problems[0]}; "
                         "run: auditor policy lint")


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    description: str
    severity: str
    status: str
    detector: str
    effective: date
    citations: tuple[str, ...]
    parameters: dict[str, Any]
    falsepositives: tuple[str, ...]
    remediation: str
    examples: tuple[dict, ...]
    path: Path
    site_path: Path | None = None  # the site file that overrode it, if any

    @classmethod
    def from_doc(cls, doc: dict, path: Path) -> "Rule":
        return cls(doc["id"], doc["title"].strip(), doc["description"].strip(), doc["severity"], doc["status"],
                   doc["detector"], doc["effective"], tuple(doc["citations"]), dict(doc["parameters"]),
                   tuple(doc["falsepositives"]), doc["remediation"].strip(), tuple(doc["examples"]), path)


@dataclass
class Policy:
    rules: dict[str, Rule]
    settings: EngineSettings = field(default_factory=EngineSettings)

    def running(self) -> list[Rule]:
        return [r for r in self.rules.values() if r.status in RUNNING]

    def lookback(self) -> timedelta:
        """How far before the period the events must reach for the running rules."""
        return max((REGISTRY[r.detector].lookback(r.parameters) for r in self.running()), default=timedelta(0))


# the rules grounded in a tie between the member and the patient: what snooping has for a motive, so
# never an expected gap (policies/engine.yaml, expected_gaps)
TIED_RULES = ("self-access", "family-access", "coworker-access", "neighbor-access")


def _settings(f: PolicyFile, base: EngineSettings, partial: bool) -> EngineSettings:
    doc = f.data if f.data is not None else {}
    if not isinstance(doc, dict):
        f.problem((), "the engine settings must be a YAML mapping")
        return base
    known = {"id", "version", "effective", "citations", "explanations", "access_actions", "precedence", "expected_gaps"}
    for key in sorted(set(doc) - known):
        f.problem((key,), f"unknown key {key!r}")
    ex = doc.get("explanations", {} if partial else None)
    if not isinstance(ex, dict):
        f.problem(("explanations",), f"explanations must be a mapping of windows, {', '.join(_SETS)}")
        return base
    values: dict[str, Any] = {}
    for key, value in ex.items():
        if key in _WINDOWS and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            values[key] = value
        elif key in _SETS and isinstance(value, list) and all(isinstance(v, str) for v in value):
            values[key] = frozenset(value)
        else:
            f.problem(("explanations", key), f"{key!r} is not a known setting or has a wrong value ({value!r})")
    if not partial:
        for key in sorted(set(_WINDOWS) - set(ex)):
            f.problem(("explanations",), f"missing window {key!r}")
    old = base.explanations
    explanations = ExplanationPolicy(**{**{k: getattr(old, k) for k in old.__dataclass_fields__}, **values})
    actions, precedence = doc.get("access_actions", base.access_actions), doc.get("precedence", base.precedence)
    if not isinstance(actions, (list, frozenset)) or set(actions) - ACCESS_ACTIONS - {"login_failed"}:
        f.problem(("access_actions",), f"access_actions must be a list among {', '.join(sorted(ACCESS_ACTIONS))}")
        actions = base.access_actions
    if not isinstance(precedence, (list, tuple)):
        f.problem(("precedence",), "precedence must be a list of rule ids")
        precedence = base.precedence
    gaps = doc.get("expected_gaps", base.expected_gaps)
    if not isinstance(gaps, (list, tuple)) or not all(isinstance(g, str) for g in gaps):
        f.problem(("expected_gaps",), "expected_gaps must be a list of rule ids")
        gaps = base.expected_gaps
    return EngineSettings(explanations, frozenset(actions), tuple(precedence), tuple(gaps))


def _rule_files(folder: Path) -> list[Path]:
    """The rule files of a folder: every YAML file but the settings beside them (the engine's, the
    case settings, the approved explanation templates)."""
    return sorted(p for p in folder.glob("*.yaml") if p.name not in (ENGINE_FILE, CASES_FILE, TEMPLATES_FILE))


def _load_ours(rules_dir: Path, problems: list[Problem]) -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for path in _rule_files(rules_dir):
        f = PolicyFile.read(path)
        if not f.problems:
            check_rule(f)
        problems += f.problems
        if not f.problems:
            if f.data["id"] in rules:
                problems.append(Problem(path, f.lines.get(("id",)), f"duplicate rule id {f.data['id']!r}"))
            rules[f.data["id"]] = Rule.from_doc(f.data, path)
    for missing in (m for m in SPEC_RULES if m not in rules and not any(
            p.path.stem == m for p in problems)):
        problems.append(Problem(rules_dir, None, f"no rule file for the contract's rule {missing!r}"))
    return rules


def _apply_site(site_dir: Path, rules: dict[str, Rule], problems: list[Problem]) -> None:
    for path in _rule_files(site_dir):
        f = PolicyFile.read(path)
        rule_id = f.data.get("id") if isinstance(f.data, dict) else None
        base = rules.get(rule_id) if isinstance(rule_id, str) else None
        if not f.problems:
            check_rule(f, override=base is not None, base_detector=base.detector if base else None)
        problems += f.problems
        if f.problems:
            continue
        if base is None:
            rules[rule_id] = Rule.from_doc(f.data, path)
        else:
            changes = {k: f.data[k] for k in ("severity", "status") if k in f.data}
            params = {**base.parameters, **f.data.get("parameters", {})}
            rules[rule_id] = Rule(**{**base.__dict__, **changes, "parameters": params, "site_path": path})


def lint(rules_dir: Path | None = None, site_dir: Path | None = None) -> tuple[list[Problem], Policy | None]:
    """Every problem of every file (ours, then the site's), and the policy when there are none."""
    rules_dir = Path(rules_dir) if rules_dir else POLICIES_DIR / "rules"
    problems: list[Problem] = []
    if not rules_dir.is_dir():
        return [Problem(rules_dir, None, "no such folder of rule files")], None
    engine_path = rules_dir.parent / ENGINE_FILE
    engine_file = PolicyFile.read(engine_path if engine_path.exists() else POLICIES_DIR / ENGINE_FILE)
    settings = _settings(engine_file, EngineSettings(), partial=False) if not engine_file.problems else EngineSettings()
    problems += engine_file.problems
    gaps_file = engine_file  # the file whose expected_gaps hold (a site's, when it names them)
    rules = _load_ours(rules_dir, problems)
    if site_dir is not None:
        site_dir = Path(site_dir)
        if not site_dir.is_dir():
            problems.append(Problem(site_dir, None, "no such folder of site policies"))
        else:
            if (site_dir / ENGINE_FILE).exists():
                site_engine = PolicyFile.read(site_dir / ENGINE_FILE)
                if not site_engine.problems:
                    settings = _settings(site_engine, settings, partial=True)
                    if isinstance(site_engine.data, dict) and "expected_gaps" in site_engine.data:
                        gaps_file = site_engine
                problems += site_engine.problems
            _apply_site(site_dir, rules, problems)
            if (site_dir / TEMPLATES_FILE).exists():  # explanation templates a privacy officer approved
                approved_file = PolicyFile.read(site_dir / TEMPLATES_FILE)
                approved = read_approved(approved_file) if not approved_file.problems else ()
                problems += approved_file.problems
                settings = replace(settings, explanations=replace(settings.explanations, approved=approved))
    broken = {p.path.stem for p in problems}
    for rule_id in settings.precedence:
        if rule_id not in rules and rule_id not in broken:
            problems.append(Problem(engine_file.path, engine_file.lines.get(("precedence",)),
                                    f"precedence names an unknown rule {rule_id!r}"))
    for i, rule_id in enumerate(settings.expected_gaps):  # only a finding that an unexplained access alone grounds
        line = gaps_file.lines.get(("expected_gaps", i), gaps_file.lines.get(("expected_gaps",)))
        if rule_id in TIED_RULES:
            problems.append(Problem(gaps_file.path, line, f"expected_gaps names {rule_id!r}: a finding on the member's "
                                                          f"own record, family, colleague or neighbour never ranks "
                                                          f"as an expected gap"))
        elif rule_id not in settings.precedence:
            problems.append(Problem(gaps_file.path, line, f"expected_gaps names {rule_id!r}, which is not a rule that "
                                                          f"claims an unexplained access (the precedence)"))
    return problems, (None if problems else Policy(rules, settings))


def load_policy(rules_dir: Path | None = None, site_dir: Path | None = None) -> Policy:
    problems, policy = lint(rules_dir, site_dir)
    if problems:
        raise PolicyError(problems)
    return policy  # type: ignore[return-value]

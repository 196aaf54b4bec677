"""Retention schedules as data: policies/retention/<name>.yaml, one per state (and a default), each
counting from the patient's last encounter, per record type, with minors kept until the age of
majority plus N years and some record types kept permanently. Loading reports every problem of
every file at once, each with file:line (as `auditor policy lint` does for the rules).

45 CFR 164.530(j) does not set how long records are kept: state law and Medicare do. No period may
be shorter than the Medicare floor, 5 years (42 CFR 482.24(b)(1)).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from auditor.errors import ConfigurationError, InputError
from auditor.policy.validation import PolicyFile, Problem
from auditor.resources import POLICIES_DIR

SCHEDULES_DIR = POLICIES_DIR / "retention"
MEDICARE_FLOOR_YEARS = 5  # 42 CFR 482.24(b)(1): medical records retained at least 5 years
ENCOUNTER = "encounter"  # the record type of the encounters themselves
ORDER = "order"  # the record type of orders (contract version 2)
DEFAULT_STATE = "default"
KEYS = {"id": str, "state": str, "title": str, "citations": list, "adult_years": int, "minors": dict,
        "record_types": dict, "permanent": list}
REQUIRED = ("id", "state", "title", "adult_years", "minors")
SCHEDULE_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
STATE = re.compile(r"^([A-Z]{2}|default)$")
RECORD_TYPE = re.compile(r"^[a-z][a-z0-9_]*$")


class ScheduleError(ConfigurationError):
    """Retention schedule files with problems; `problems` lists every one, each with file:line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the retention schedules, the first: {problems[0]}")


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class RetentionPeriod:
    retain_until: date | None  # the last day the records are kept; None: permanently
    basis: str  # the schedule's words for why


@dataclass(frozen=True)
class Schedule:
    id: str
    state: str
    title: str
    citations: tuple[str, ...]
    adult_years: int
    majority_age: int
    years_after_majority: int
    record_types: dict[str, int]
    permanent: frozenset[str]
    path: Path
    digest: str  # SHA-256 of the file: the certificate names exactly the schedule applied

    def years_for(self, record_type: str) -> int:
        return self.record_types.get(record_type, self.adult_years)

    def period(self, last_encounter: date, record_types: set[str], birth_date: date | None) -> RetentionPeriod:
        """How long a patient's records are kept, counted from their last encounter."""
        kept = sorted(record_types & self.permanent)
        if kept:
            return RetentionPeriod(None, f"{', '.join(kept)}: kept permanently ({self.id})")
        years = max((self.years_for(t) for t in record_types), default=self.adult_years)
        until = add_years(last_encounter, years)
        basis = f"{years} years after the last encounter ({self.id})"
        if birth_date is not None and add_years(birth_date, self.majority_age) > last_encounter:
            minors_until = add_years(birth_date, self.majority_age + self.years_after_majority)
            if minors_until > until:
                until = minors_until
                basis = (f"a minor at the last encounter: until age {self.majority_age} plus "
                         f"{self.years_after_majority} years ({self.id})")
        return RetentionPeriod(until, basis)


def _check_years(f: PolicyFile, where: tuple, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        f.problem(where, f"{where[-1]} must be a whole number of years, not {value!r}")
    elif value < MEDICARE_FLOOR_YEARS:
        f.problem(where, f"{value} years is below the {MEDICARE_FLOOR_YEARS}-year Medicare floor (42 CFR 482.24(b)(1))")
    elif value > 100:
        f.problem(where, f"{value} years is not a retention period (use permanent)")


def _check_minors(f: PolicyFile, minors: dict) -> None:
    for key in sorted(set(minors) - {"majority_age", "years_after_majority"}):
        f.problem(("minors", key), f"unknown key {key!r} in minors (known: majority_age, years_after_majority)")
    for key, low, high in (("majority_age", 14, 25), ("years_after_majority", 0, 30)):
        value = minors.get(key)
        if key not in minors:
            f.problem(("minors",), f"minors needs {key}")
        elif isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            f.problem(("minors", key), f"{key} must be a whole number from {low} to {high}, not {value!r}")


def _check_types(f: PolicyFile, record_types: dict, permanent: list) -> None:
    for name, years in record_types.items():
        if not isinstance(name, str) or not RECORD_TYPE.match(name):
            f.problem(("record_types", name), f"record type {name!r} must be lower_case words")
        _check_years(f, ("record_types", name), years)
    for i, name in enumerate(permanent):
        if not isinstance(name, str) or not RECORD_TYPE.match(name):
            f.problem(("permanent", i), f"permanent record type {name!r} must be lower_case words")
        elif name in record_types:
            f.problem(("permanent", i), f"record type {name!r} is both permanent and kept {record_types[name]} years")


def check_schedule(f: PolicyFile) -> None:
    """Every problem of one schedule file, each at its line."""
    doc = f.data
    if not isinstance(doc, dict):
        if not f.problems:
            f.problem((), "a retention schedule must be a mapping")
        return
    for key in sorted(set(doc) - set(KEYS), key=str):
        f.problem((key,), f"unknown key {key!r} (known: {', '.join(sorted(KEYS))})")
    for key in REQUIRED:
        if key not in doc:
            f.problem((), f"missing {key!r}")
    for key, kind in KEYS.items():
        if key in doc and not isinstance(doc[key], kind):
            f.problem((key,), f"{key} must be a {kind.__name__}")
    if isinstance(doc.get("id"), str) and not SCHEDULE_ID.match(doc["id"]):
        f.problem(("id",), f"id {doc['id']!r} must be lower-case words joined by hyphens")
    if isinstance(doc.get("state"), str) and not STATE.match(doc["state"]):
        f.problem(("state",), f"state {doc['state']!r} must be a two-letter postal code or 'default'")
    if "adult_years" in doc:
        _check_years(f, ("adult_years",), doc["adult_years"])
    if isinstance(doc.get("minors"), dict):
        _check_minors(f, doc["minors"])
    record_types = doc.get("record_types") or {}
    permanent = doc.get("permanent") or []
    if isinstance(record_types, dict) and isinstance(permanent, list):
        _check_types(f, record_types, permanent)


def _schedule(f: PolicyFile) -> Schedule:
    doc = f.data
    return Schedule(doc["id"], doc["state"], doc["title"].strip(), tuple(doc.get("citations") or ()),
                    doc["adult_years"], doc["minors"]["majority_age"], doc["minors"]["years_after_majority"],
                    dict(doc.get("record_types") or {}), frozenset(doc.get("permanent") or ()), f.path,
                    hashlib.sha256(f.path.read_bytes()).hexdigest())


def lint_schedules(folder: Path | None = None) -> tuple[list[Problem], dict[str, Schedule]]:
    """Every problem in every schedule file, and the schedules by state when there is none."""
    folder = Path(folder) if folder else SCHEDULES_DIR
    files = [PolicyFile.read(p) for p in sorted(folder.glob("*.yaml"))]
    problems: list[Problem] = []
    if not files:
        problems.append(Problem(folder, None, "no retention schedule (*.yaml) in the folder"))
    seen_ids: dict[str, Path] = {}
    seen_states: dict[str, Path] = {}
    for f in files:
        check_schedule(f)
        doc = f.data if isinstance(f.data, dict) else {}
        for key, seen in (("id", seen_ids), ("state", seen_states)):
            value = doc.get(key)
            if isinstance(value, str) and value in seen:
                f.problem((key,), f"{key} {value!r} is already the {key} of {seen[value].name}")
            elif isinstance(value, str):
                seen[value] = f.path
        problems += f.problems
    if problems:
        return problems, {}
    return [], {s.state: s for s in (_schedule(f) for f in files)}


def load_schedules(folder: Path | None = None) -> dict[str, Schedule]:
    problems, schedules = lint_schedules(folder)
    if problems:
        raise ScheduleError(problems)
    return schedules


def schedule_for(schedules: dict[str, Schedule], state: str | None) -> Schedule:
    """The state's schedule (a two-letter code), or the default one."""
    wanted = (state or DEFAULT_STATE).strip()
    wanted = wanted if wanted == DEFAULT_STATE else wanted.upper()
    if wanted not in schedules:
        known = ", ".join(sorted(schedules))
        raise InputError(f"no retention schedule for state {wanted!r} (schedules: {known})")
    return schedules[wanted]

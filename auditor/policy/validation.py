"""Checking policy files, reporting every problem of every file at once, each with file:line.

Lines come from yaml's node marks: one parse gives the document's nodes, for their marks, and its
values built from those nodes; a problem names the line of the deepest key it concerns.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from auditor import yaml_files
from auditor.policy.detectors import KINDS, REGISTRY

SEVERITIES = ("low", "medium", "high", "critical")
STATUSES = ("stable", "test", "experimental", "deprecated", "disabled")
RULE_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
CITATION = re.compile(r"^(45|42) CFR \d+(\.\d+)?(\([0-9a-zA-Z]+\))*$")
RULE_KEYS = {"id": str, "title": str, "description": str, "severity": str, "status": str, "detector": str,
             "effective": date, "citations": list, "parameters": dict, "falsepositives": list,
             "remediation": str, "examples": list}
OVERRIDE_KEYS = {"id", "parameters", "severity", "status"}  # what a site file may change in one of our rules
EXAMPLE_KEYS = {"name", "timezone", "period", "parameters", "workforce", "patients", "encounters", "care_team", "events",
                "cases", "expect"}
EVENT_KEYS = {"id", "at", "user_id", "patient_id", "action", "outcome", "record_type", "break_glass", "reason",
              "role", "purpose", "source"}


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


def _marks(node: yaml.Node | None, path: tuple, lines: dict[tuple, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*path, key.value)
            lines[here] = key.start_mark.line + 1
            _marks(value, here, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            _marks(item, (*path, i), lines)


MAX_POLICY_BYTES = 1 << 20  # a rule file is a few kilobytes; a site folder's file is refused beyond 1 MiB


class _NotAPolicyFile(Exception):
    """What the file is instead: a FIFO or a device (whose read would wait or never end), or too big."""


def _text(path: Path) -> str:
    """The file's text, read only when it is a regular file of at most MAX_POLICY_BYTES: whoever can
    write a site folder must not be able to hang or exhaust the officer's commands with it (a FIFO named
    engine.yaml, a link to /dev/zero). O_NONBLOCK makes opening a FIFO return at once."""
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)), "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise _NotAPolicyFile("is not a regular file")
        data = handle.read(MAX_POLICY_BYTES + 1)
    if len(data) > MAX_POLICY_BYTES:
        raise _NotAPolicyFile(f"is larger than {MAX_POLICY_BYTES // 1024} KiB")
    return data.decode("utf-8")


@dataclass
class PolicyFile:
    """One YAML file: its values, the line of every key, and the problems found in it."""

    path: Path
    data: Any = None
    lines: dict[tuple, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> "PolicyFile":
        f = cls(path)
        try:
            nodes, f.data = yaml_files.load_with_nodes(_text(path))
            _marks(nodes, (), f.lines)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            f.problem((), f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                      line=mark.line + 1 if mark else None)
        except _NotAPolicyFile as exc:
            f.problem((), str(exc))
        except (OSError, UnicodeDecodeError) as exc:
            f.problem((), f"cannot be read ({type(exc).__name__})")
        return f

    def problem(self, where: tuple, message: str, line: int | None = None) -> None:
        if line is None:
            for n in range(len(where), -1, -1):
                if where[:n] in self.lines:
                    line = self.lines[where[:n]]
                    break
            else:
                line = 1
        self.problems.append(Problem(self.path, line, message))


def check_parameters(f: PolicyFile, params: Any, detector_name: str, complete: bool) -> None:
    """Parameters must be the detector's, of the right kind; `complete`: all of them given."""
    detector = REGISTRY.get(detector_name)
    if detector is None:
        return
    if not isinstance(params, dict):
        f.problem(("parameters",), "parameters must be a mapping")
        return
    for name, value in params.items():
        kind = detector.parameters.get(name)
        if kind is None:
            f.problem(("parameters", name), f"unknown parameter {name!r} for detector {detector_name} "
                      f"(known: {', '.join(sorted(detector.parameters)) or 'none'})")
        elif not KINDS[kind](value):
            f.problem(("parameters", name), f"parameter {name!r} must be of kind {kind}, not {value!r}")
    if complete:
        for name in sorted(set(detector.parameters) - set(params)):
            f.problem(("parameters",), f"missing parameter {name!r}")


def _check_examples(f: PolicyFile, examples: list) -> None:
    if not examples:
        f.problem(("examples",), "a rule needs at least one regression example")
    for i, ex in enumerate(examples):
        where = ("examples", i)
        if not isinstance(ex, dict):
            f.problem(where, "an example must be a mapping")
            continue
        for key in sorted(set(ex) - EXAMPLE_KEYS):
            f.problem((*where, key), f"unknown example key {key!r}")
        for key in ("name", "events", "expect"):
            if key not in ex:
                f.problem(where, f"example is missing {key!r}")
        ids = set()
        for j, ev in enumerate(ex.get("events") or []):
            if not isinstance(ev, dict) or not {"id", "at", "user_id"} <= set(ev):
                f.problem((*where, "events", j), "an example event needs id, at and user_id")
                continue
            ids.add(str(ev["id"]))
            for key in sorted(set(ev) - EVENT_KEYS):
                f.problem((*where, "events", j, key), f"unknown event key {key!r}")
        expect = ex.get("expect")
        if expect is not None and not (isinstance(expect, list) and all(isinstance(m, list) for m in expect)):
            f.problem((*where, "expect"), "expect must be a list of matches, each a list of event ids")
        elif expect:
            for k, match in enumerate(expect):
                for ref in match:
                    if str(ref) not in ids:
                        f.problem((*where, "expect", k), f"expected event {ref!r} is not among the example's events")


def _check_field(f: PolicyFile, key: str, value: Any) -> None:
    if key == "id" and not RULE_ID.match(value):
        f.problem(("id",), f"rule id {value!r} must be lower-case words joined by hyphens")
    elif key == "id" and value != f.path.stem:
        f.problem(("id",), f"rule id {value!r} does not match the file name {f.path.name}")
    elif key == "severity" and value not in SEVERITIES:
        f.problem(("severity",), f"severity {value!r} is not one of {', '.join(SEVERITIES)}")
    elif key == "status" and value not in STATUSES:
        f.problem(("status",), f"status {value!r} is not one of {', '.join(STATUSES)}")
    elif key == "detector" and value not in REGISTRY:
        f.problem(("detector",), f"no detector named {value!r} (known: {', '.join(sorted(REGISTRY))})")
    elif key == "citations":
        if not value:
            f.problem(("citations",), "a rule cites the regulation it implements")
        for i, c in enumerate(value):
            if not isinstance(c, str) or not CITATION.match(c):
                f.problem(("citations", i), f"citation {c!r} is not of the form '45 CFR 164.312(b)'")
    elif key == "falsepositives" and not all(isinstance(s, str) for s in value):
        f.problem(("falsepositives",), "falsepositives must be a list of sentences")
    elif key == "examples":
        _check_examples(f, value)


def check_rule(f: PolicyFile, override: bool = False, base_detector: str | None = None) -> None:
    """A full rule file, or (override=True) a site file changing one of our rules."""
    doc = f.data
    if not isinstance(doc, dict):
        f.problem((), "a rule file must be a YAML mapping")
        return
    allowed = OVERRIDE_KEYS if override else set(RULE_KEYS)
    for key in doc:
        if key not in allowed:
            what = "a site override may only change parameters, severity and status" if override else "unknown key"
            f.problem((key,), f"{what}: {key!r}")
    for key in RULE_KEYS if not override else ():
        if key not in doc:
            f.problem((), f"missing {key!r}", line=1)
    for key, value in doc.items():
        if key not in RULE_KEYS:
            continue
        if not isinstance(value, RULE_KEYS[key]) or (RULE_KEYS[key] is date and isinstance(value, str)):
            f.problem((key,), f"{key!r} must be {RULE_KEYS[key].__name__.replace('str', 'text')}")
            continue
        if override and key == "id":
            continue
        _check_field(f, key, value)
    detector = base_detector if override else doc.get("detector")
    if "parameters" in doc and isinstance(detector, str):
        check_parameters(f, doc["parameters"], detector, complete=not override)

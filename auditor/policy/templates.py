"""Explanation templates: further explanations a site's own data suggests, in the spirit of
explanation-based auditing (Fabbri & LeFevre, "Explanation-based auditing", VLDB 2011). Each is a
path through the treatment data from an access to the patient, with its window:

- department_care_team: a member of the user's department was on the patient's care team within
  `days` days of the access;
- department_encounter: the user's department had an encounter with the patient, from `days_before`
  days before its start to `days_after` days after its end (the contract's rule 3, wider);
- colleague_first: a member of the user's department whose own access to the patient is clinically
  explained opened the chart within `minutes` minutes before.

`auditor explain mine` measures candidates over a period (auditor.review.mining); a template explains
nothing until a privacy officer approves it into the site's policy folder (explanations.yaml,
`auditor explain approve`), which `auditor policy lint` checks like the rules. An approved template
never explains a sensitive record type (as the operational rule 4 does not), and an access it
explains is credited to "approved" in the shares a report states.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from auditor.policy.validation import PolicyFile

SITE_FILE = "explanations.yaml"
# kind -> (its parameters with their allowed range, the sentence an officer reads)
KINDS: dict[str, tuple[dict[str, tuple[int, int]], str]] = {
    "department_care_team": ({"days": (0, 365)},
                             "a member of the user's department was on the patient's care team within {days} "
                             "day(s) of the access"),
    "department_encounter": ({"days_before": (0, 3650), "days_after": (0, 3650)},
                             "the user's department had an encounter with the patient, from {days_before} days "
                             "before it to {days_after} days after it"),
    "colleague_first": ({"minutes": (1, 7 * 24 * 60)},
                        "a member of the user's department whose own access is clinically explained opened the "
                        "chart within {minutes} minutes before"),
}
# what `auditor explain mine` tries, each kind over a few windows
CANDIDATES: tuple[tuple[str, dict[str, int]], ...] = (
    ("department_care_team", {"days": 0}), ("department_care_team", {"days": 1}),
    ("department_care_team", {"days": 7}),
    ("department_encounter", {"days_before": 14, "days_after": 60}),
    ("department_encounter", {"days_before": 30, "days_after": 90}),
    ("department_encounter", {"days_before": 30, "days_after": 180}),
    ("colleague_first", {"minutes": 60}), ("colleague_first", {"minutes": 240}),
    ("colleague_first", {"minutes": 1440}),
)


@dataclass(frozen=True)
class Template:
    kind: str
    parameters: tuple[tuple[str, int], ...]  # in the kind's order

    @classmethod
    def of(cls, kind: str, parameters: dict[str, int]) -> "Template":
        return cls(kind, tuple((name, int(parameters[name])) for name in KINDS[kind][0]))

    @property
    def id(self) -> str:
        return f"{self.kind}:{','.join(f'{k}={v}' for k, v in self.parameters)}"

    @property
    def sentence(self) -> str:
        return KINDS[self.kind][1].format(**dict(self.parameters))

    def get(self, name: str) -> int:
        return dict(self.parameters)[name]


@dataclass(frozen=True)
class ApprovedTemplate:
    template: Template
    approved_by: str
    approved_on: date


def candidates() -> list[Template]:
    return [Template.of(kind, params) for kind, params in CANDIDATES]


def parse_id(text: str) -> Template:
    """A template from its id (kind:name=value,...); ValueError naming what is wrong."""
    kind, _, rest = text.partition(":")
    if kind not in KINDS:
        raise ValueError(f"unknown template kind {kind!r} (one of {', '.join(KINDS)})")
    values: dict[str, int] = {}
    for part in filter(None, rest.split(",")):
        name, _, value = part.partition("=")
        if not value.strip().lstrip("-").isdigit():
            raise ValueError(f"{part!r} is not name=whole number")
        values[name.strip()] = int(value)
    _check(kind, values)
    return Template.of(kind, values)


def _check(kind: str, values: dict) -> None:
    allowed = KINDS[kind][0]
    if set(values) != set(allowed):
        raise ValueError(f"{kind} takes {', '.join(allowed)}")
    for name, (low, high) in allowed.items():
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name} must be a whole number from {low} to {high}")


def read_approved(f: "PolicyFile") -> tuple[ApprovedTemplate, ...]:
    """The approved templates of a site's explanations.yaml; each problem goes to `f` with its line."""
    doc = f.data if f.data is not None else {}
    if not isinstance(doc, dict) or not isinstance(doc.get("approved", []), list):
        f.problem((), "explanations.yaml must be a mapping with a list 'approved'")
        return ()
    for key in sorted(set(doc) - {"approved"}):
        f.problem((key,), f"unknown key {key!r}")
    out = []
    for n, item in enumerate(doc.get("approved") or []):
        where = ("approved", n)
        if not isinstance(item, dict):
            f.problem(where, "each approved template is a mapping")
            continue
        for key in sorted(set(item) - {"id", "kind", "parameters", "approved_by", "approved_on", "support_when_mined"}):
            f.problem((*where, key), f"unknown key {key!r}")
        kind, params = item.get("kind"), item.get("parameters")
        if kind not in KINDS:
            f.problem((*where, "kind"), f"unknown template kind {kind!r} (one of {', '.join(KINDS)})")
            continue
        try:
            _check(kind, params if isinstance(params, dict) else {})
        except ValueError as exc:
            f.problem((*where, "parameters"), str(exc))
            continue
        template = Template.of(kind, params)
        if item.get("id") not in (None, template.id):
            f.problem((*where, "id"), f"id {item.get('id')!r} does not match its kind and parameters ({template.id})")
        by, on = item.get("approved_by"), item.get("approved_on")
        if not isinstance(by, str) or not by.strip():
            f.problem((*where, "approved_by"), "approved_by names the privacy officer who approved it")
            continue
        try:
            day = on if isinstance(on, date) else date.fromisoformat(str(on))
        except ValueError:
            f.problem((*where, "approved_on"), "approved_on must be a date (YYYY-MM-DD)")
            continue
        out.append(ApprovedTemplate(template, by.strip(), day))
    return tuple(out)


def windows(template: Template, accesses: pd.DataFrame, workforce: pd.DataFrame, encounters: pd.DataFrame,
            care_team: pd.DataFrame, clinically: np.ndarray) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """(patient_id, department, window start, window end) rows: an access is explained by the template
    when one row has its patient and the user's department and spans its time. `clinically`: which of
    `accesses` the clinical explanations explain (colleague_first builds its windows from them)."""
    day = pd.Timedelta(days=1)
    if template.kind == "department_care_team":
        department = care_team["workforce_id"].map(workforce.set_index("workforce_id")["department"])
        open_end = pd.Timestamp("2262-01-01", tz="UTC")
        d = template.get("days") * day
        return (care_team["patient_id"], department, care_team["start"] - d, care_team["end"].fillna(open_end) + d)
    if template.kind == "department_encounter":
        return (encounters["patient_id"], encounters["department"],
                encounters["start"] - template.get("days_before") * day,
                encounters["end"] + template.get("days_after") * day)
    seen = accesses[clinically]
    return (seen["patient_id"], seen["department"].astype("string"), seen["at"],
            seen["at"] + pd.Timedelta(minutes=template.get("minutes")))

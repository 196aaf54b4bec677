"""The detector registry: rule files name a detector; each detector declares its parameters.

A detector takes the DetectionContext and the rule's parameters and returns hits: one row per event
it flags, with `unit` (what one finding groups: a patient, a day, a burst) and `evidence` (the
sentence after the user's name; {opened}, {times} and {when} are filled in per finding). A detector
`after_others` runs once the others have, and sees the events they flagged (`ctx.flagged`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable, Mapping

import pandas as pd

from auditor.policy.context import DetectionContext

HIT_COLUMNS = ["event", "unit", "evidence", "severity"]
# Parameter kinds a rule file may give: name -> checker of the YAML value.
KINDS: dict[str, Callable[[Any], bool]] = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
    "severity": lambda v: v in ("low", "medium", "high", "critical"),
    "strings": lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
}


@dataclass(frozen=True)
class Detector:
    name: str
    detect: Callable[[DetectionContext, Mapping[str, Any]], pd.DataFrame]
    parameters: Mapping[str, str] = field(default_factory=dict)  # name -> kind
    lookback: Callable[[Mapping[str, Any]], timedelta] = lambda params: timedelta(0)
    after_others: bool = False  # it needs ctx.flagged: the events the other running rules flag


REGISTRY: dict[str, Detector] = {}


def detector(name: str, parameters: Mapping[str, str] | None = None,
             lookback: Callable[[Mapping[str, Any]], timedelta] | None = None, after_others: bool = False):
    def register(fn):
        REGISTRY[name] = Detector(name, fn, dict(parameters or {}), lookback or (lambda params: timedelta(0)),
                                  after_others)
        return fn
    return register


def no_hits() -> pd.DataFrame:
    """What a detector returns when nothing is flagged: said as soon as it is known, since building the
    evidence of no rows costs as much as of a few (every string operation is a pass of pandas' own), and
    most rules flag nothing in most of the partitions a large month is judged in."""
    return pd.DataFrame({"event": pd.Series([], dtype="int64"), "unit": pd.Series([], dtype="string"),
                         "evidence": pd.Series([], dtype="string"), "severity": pd.Series([], dtype="string")})


def hits(rows: pd.DataFrame, unit, evidence, severity=None) -> pd.DataFrame:
    """The hit frame for `rows` (indexed by event number)."""
    out = pd.DataFrame({"event": rows.index.to_numpy()}, index=rows.index)
    out["unit"] = pd.Series(unit, index=rows.index).astype("string")
    out["evidence"] = pd.Series(evidence, index=rows.index).astype("string")
    out["severity"] = pd.Series(severity, index=rows.index, dtype="string")
    return out.reset_index(drop=True)[HIT_COLUMNS]


from auditor.policy.detectors import peers, relationships, review, timing, volume  # noqa: E402,F401  (registers)

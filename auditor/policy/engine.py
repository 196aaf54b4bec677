"""Running the rules: every running rule's detector over one DetectionContext, then the contract's
precedence among the rules that claim an unexplained access.

"An unexplained access that one of the specific rules (self, family, coworker, neighbor, vip,
deceased, sensitive) flags is reported under that rule; no-treatment-relationship takes what none of
them claims" (interchange contract). The order is policies/engine.yaml's `precedence`: an access
goes to the first rule in it that flags it; rules not in the list (after-hours, bulk-export, ...)
report independently. A detector `after_others` (unusual-access) runs last, on a context that
names the events the others flagged, and leaves those alone: it never takes a finding from them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from auditor.policy.context import DetectionContext, build_context
from auditor.policy.detectors import HIT_COLUMNS, REGISTRY
from auditor.policy.frames import Frames
from auditor.policy.peer_groups import Standing
from auditor.policy.rules import Policy


@dataclass
class Detection:
    context: DetectionContext
    hits: pd.DataFrame  # HIT_COLUMNS + rule, one row per (rule, event) after precedence
    # each member's standing against their peers, worked out where every access was (a cluster's run,
    # whose context holds only the accesses of the members with hits); None: from context.accesses
    standing: Standing | None = None


def apply_precedence(hits: pd.DataFrame, precedence: tuple[str, ...]) -> pd.DataFrame:
    """Keep, for each event, only the first rule of `precedence` that flags it (others untouched)."""
    rank = hits["rule"].map({rule: i for i, rule in enumerate(precedence)}).astype("float64")
    best = rank.groupby(hits["event"]).transform("min")
    return hits[rank.isna() | (rank == best)].reset_index(drop=True)


def _hits(context: DetectionContext, rules) -> list[pd.DataFrame]:
    found = [REGISTRY[rule.detector].detect(context, rule.parameters).assign(rule=rule.id) for rule in rules]
    return [f for f in found if not f.empty]


def detect(context: DetectionContext, policy: Policy) -> pd.DataFrame:
    running = policy.running()
    found = _hits(context, [r for r in running if not REGISTRY[r.detector].after_others])
    last = [r for r in running if REGISTRY[r.detector].after_others]
    if last:
        flagged = pd.Index(pd.unique(np.concatenate([f["event"].to_numpy(np.int64) for f in found]))
                           if found else np.empty(0, np.int64))
        found += _hits(replace(context, flagged=flagged), last)
    if not found:
        return pd.DataFrame(columns=[*HIT_COLUMNS, "rule"])
    return apply_precedence(pd.concat(found, ignore_index=True), policy.settings.precedence)


def run(frames: Frames, policy: Policy) -> Detection:
    context = build_context(frames, policy.settings)
    return Detection(context, detect(context, policy))

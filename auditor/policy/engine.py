"""Running the rules: every running rule's detector over one DetectionContext, then the contract's
precedence among the rules that claim an unexplained access.

"An unexplained access that one of the specific rules (self, family, coworker, neighbor, vip,
deceased, sensitive) flags is reported under that rule; no-treatment-relationship takes what none of
them claims" (interchange contract). The order is policies/engine.yaml's `precedence`: an access
goes to the first rule in it that flags it; rules not in the list (after-hours, bulk-export, ...)
report independently.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from auditor.policy.context import DetectionContext, build_context
from auditor.policy.detectors import HIT_COLUMNS, REGISTRY
from auditor.policy.frames import Frames
from auditor.policy.rules import Policy


@dataclass
class Detection:
    context: DetectionContext
    hits: pd.DataFrame  # HIT_COLUMNS + rule, one row per (rule, event) after precedence


def apply_precedence(hits: pd.DataFrame, precedence: tuple[str, ...]) -> pd.DataFrame:
    """Keep, for each event, only the first rule of `precedence` that flags it (others untouched)."""
    rank = hits["rule"].map({rule: i for i, rule in enumerate(precedence)}).astype("float64")
    best = rank.groupby(hits["event"]).transform("min")
    return hits[rank.isna() | (rank == best)].reset_index(drop=True)


def detect(context: DetectionContext, policy: Policy) -> pd.DataFrame:
    found = [REGISTRY[rule.detector].detect(context, rule.parameters).assign(rule=rule.id)
             for rule in policy.running()]
    found = [f for f in found if not f.empty]
    if not found:
        return pd.DataFrame(columns=[*HIT_COLUMNS, "rule"])
    return apply_precedence(pd.concat(found, ignore_index=True), policy.settings.precedence)


def run(frames: Frames, policy: Policy) -> Detection:
    context = build_context(frames, policy.settings)
    return Detection(context, detect(context, policy))

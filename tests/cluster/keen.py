"""A policy whose unusual-access rule flags anyone at or above their peers' median: on the tests'
small simulated months the shipped rule flags no one, and an engine could then pass an equality test
by comparing two empty sets for it."""

from __future__ import annotations

from dataclasses import replace


def keen(policy):
    """unusual-access flagging anyone at or above the peers' median: its evidence states every
    flagged member's peer median, the whole role's for a small group's member."""
    rule = policy.rules["unusual-access"]
    eager = replace(rule, parameters={**rule.parameters, "minimum": 1, "multiple": 1, "margin": 0})
    return replace(policy, rules={**policy.rules, "unusual-access": eager})

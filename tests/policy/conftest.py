from __future__ import annotations

import warnings

import pytest

from auditor.policy.examples import frames_from_tables, matches
from auditor.policy.rules import load_policy


@pytest.fixture(scope="session")
def policy():
    return load_policy()


@pytest.fixture
def found(policy):
    """found(rule_id, **tables) -> the event ids of each finding of that rule, sorted; fails on any
    pandas warning (SettingWithCopy, chained assignment, future behaviour)."""

    def run(rule_id: str, **tables) -> list[list[str]]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return matches(policy, rule_id, frames_from_tables(**tables))

    return run

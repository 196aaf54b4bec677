"""Every regression example of every rule file: the engine finds exactly the expected matches."""

from __future__ import annotations

import pytest

from auditor.policy.examples import deciding, run_example
from auditor.policy.rules import SPEC_RULES, load_policy

POLICY = load_policy()
CASES = [pytest.param(rule.id, i, id=f"{rule.id}[{i}]")
         for rule in POLICY.rules.values() for i in range(len(rule.examples))]


def test_every_contract_rule_has_a_file_and_examples():
    assert set(POLICY.rules) == set(SPEC_RULES)
    assert all(rule.examples for rule in POLICY.rules.values())


@pytest.mark.parametrize("rule_id, index", CASES)
def test_rule_example(rule_id, index):
    example = POLICY.rules[rule_id].examples[index]
    expected = sorted(sorted(str(e) for e in match) for match in example["expect"])
    assert run_example(POLICY, rule_id, example) == expected, example["name"]


def test_a_rule_is_judged_alone_unless_other_rules_decide_what_it_keeps():
    """examples.matches runs only the rules that decide a rule's findings: a rule in the contract's
    precedence keeps what the rules before it leave, unusual-access leaves what the others flag."""
    assert set(deciding(POLICY, "after-hours").rules) == {"after-hours"}
    assert set(deciding(POLICY, "bulk-export").rules) == {"bulk-export"}
    assert deciding(POLICY, "no-treatment-relationship") is POLICY
    assert deciding(POLICY, "family-access") is POLICY
    assert deciding(POLICY, "unusual-access") is POLICY
    assert deciding(POLICY, "no-such-rule") is POLICY

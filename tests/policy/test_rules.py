"""Loading and linting the rule files: every problem of every file at once, each with file:line;
a site's overrides and rules from its own folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from auditor.policy.rules import PolicyError, lint, load_policy
from auditor.resources import POLICIES_DIR


@pytest.fixture
def rules_copy(tmp_path) -> Path:
    shutil.copytree(POLICIES_DIR / "rules", tmp_path / "rules")
    shutil.copy(POLICIES_DIR / "engine.yaml", tmp_path / "engine.yaml")
    return tmp_path / "rules"


def _edit(path: Path, old: str, new: str) -> int:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1  # the line of the edit


def test_our_rules_lint_clean():
    problems, policy = lint()
    assert problems == []
    assert policy.rules["excessive-volume"].parameters == {"peer_multiple": 3, "minimum_patients": 30}
    assert policy.settings.explanations.clinical_days_before == 7
    assert policy.settings.explanations.operational_days_after == 90


def test_lint_reports_every_problem_with_file_and_line(rules_copy):
    vip = rules_copy / "vip-access.yaml"
    sev_line = _edit(vip, "severity: high", "severity: severe")
    cite_line = _edit(vip, '"45 CFR 164.312(b)"', '"HIPAA audit"')
    hours = rules_copy / "after-hours.yaml"
    param_line = _edit(hours, "tolerance_minutes: 60", "tolerance_minutes: 60\n  tolerence: 5")
    det_line = _edit(rules_copy / "bulk-export.yaml", "detector: bulk_export", "detector: bulk_exports")
    broken = rules_copy / "self-access.yaml"
    _edit(broken, "parameters: {}", "parameters: {\n")
    problems, policy = lint(rules_copy)
    text = [str(p) for p in problems]
    assert policy is None
    assert any(t.startswith(f"{vip}:{sev_line}: severity 'severe'") for t in text), text
    assert any(t.startswith(f"{vip}:{cite_line + 0}:") and "HIPAA audit" in t for t in text), text
    assert any(t.startswith(f"{hours}:{param_line + 1}: unknown parameter 'tolerence'") for t in text), text
    assert any(t.startswith(f"{rules_copy / 'bulk-export.yaml'}:{det_line}: no detector named") for t in text)
    assert any(t.startswith(f"{broken}:") and "not valid YAML" in t for t in text), text
    with pytest.raises(PolicyError) as raised:
        load_policy(rules_copy)
    assert len(raised.value.problems) == len(problems) >= 5


def test_missing_rule_file_and_wrong_id(rules_copy):
    (rules_copy / "bulk-export.yaml").unlink()
    _edit(rules_copy / "vip-access.yaml", "id: vip-access", "id: vip")
    text = [str(p) for p in lint(rules_copy)[0]]
    assert any("no rule file for the contract's rule 'bulk-export'" in t for t in text)
    assert any("vip-access.yaml:1: rule id 'vip' does not match the file name" in t for t in text)


def test_example_expecting_an_unknown_event(rules_copy):
    line = _edit(rules_copy / "vip-access.yaml", "expect: [[e1]]", "expect: [[e9]]")
    text = [str(p) for p in lint(rules_copy)[0]]
    assert any(f"vip-access.yaml:{line}: expected event 'e9'" in t for t in text), text


def test_site_overrides_parameters_and_adds_rules(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "after-hours.yaml").write_text("id: after-hours\nparameters:\n  tolerance_minutes: 30\nseverity: medium\n")
    ours = (POLICIES_DIR / "rules" / "vip-access.yaml").read_text()
    (site / "board-member-access.yaml").write_text(
        ours.replace("id: vip-access", "id: board-member-access").replace("severity: high", "severity: critical"))
    (site / "engine.yaml").write_text("explanations:\n  clinical_days_after: 14\n")
    policy = load_policy(site_dir=site)
    assert policy.rules["after-hours"].parameters == {"tolerance_minutes": 30}
    assert policy.rules["after-hours"].severity == "medium"
    assert policy.rules["board-member-access"].severity == "critical"
    assert policy.settings.explanations.clinical_days_after == 14
    assert policy.settings.explanations.clinical_days_before == 7
    assert load_policy().rules["after-hours"].parameters == {"tolerance_minutes": 60}  # ours unchanged


def test_site_rules_need_a_known_detector_and_overrides_stay_small(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    ours = (POLICIES_DIR / "rules" / "vip-access.yaml").read_text()
    (site / "mine.yaml").write_text(ours.replace("id: vip-access", "id: mine").replace("vip_access", "crystal_ball"))
    (site / "after-hours.yaml").write_text("id: after-hours\ntitle: changed\nparameters:\n  window: 3\n")
    text = [str(p) for p in lint(site_dir=site)[0]]
    assert any("mine.yaml:" in t and "no detector named 'crystal_ball'" in t for t in text), text
    assert any("after-hours.yaml:2: a site override may only change" in t for t in text), text
    assert any("after-hours.yaml:4: unknown parameter 'window'" in t for t in text), text


def test_expected_gaps_name_only_rules_an_unexplained_access_alone_grounds(tmp_path):
    assert load_policy().settings.expected_gaps == ("no-treatment-relationship", "sensitive-record-access",
                                                    "vip-access")
    site = tmp_path / "site"
    site.mkdir()
    (site / "engine.yaml").write_text("explanations: {}\nexpected_gaps: [no-treatment-relationship]\n")
    assert load_policy(site_dir=site).settings.expected_gaps == ("no-treatment-relationship",)
    for wrong, says in (("[self-access]", "'self-access': a finding on the member's own record, family, colleague"),
                        ("[no-treatment-relationship, family-access]", "'family-access': a finding on the member's own"),
                        ("[coworker-access]", "never ranks as an expected gap"),
                        ("[neighbor-access]", "never ranks as an expected gap"),
                        ("[no-such-rule]", "'no-such-rule', which is not a rule that claims"),
                        ("after-hours", "expected_gaps must be a list of rule ids")):
        (site / "engine.yaml").write_text(f"explanations: {{}}\nexpected_gaps: {wrong}\n")
        text = [str(p) for p in lint(site_dir=site)[0]]
        assert any(t.startswith(f"{site / 'engine.yaml'}:2:") and says in t for t in text), (wrong, text)

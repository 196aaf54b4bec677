"""`auditor findings` and `auditor policy lint`, run through the CLI."""

from __future__ import annotations

import json
import shutil

import pytest

from auditor.home import create_home
from auditor.resources import POLICIES_DIR
from tests.conftest import FAST_SCRYPT
from tests.policy.vault_data import populate


@pytest.fixture
def home(tmp_path, clock):
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    yield vault
    vault.close()


def test_findings_json_per_contract(auditor, home, tmp_path):
    populate(home)
    code, out, err = auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json",
                             "--out", str(tmp_path / "f.json"), user="officer")
    assert code == 0, err
    assert "3 finding(s)" in out and "25.0% explained" in out
    assert "25.0% explained (" in out and out.count("%") >= 2  # the share of each explanation that explains any
    findings = json.loads((tmp_path / "f.json").read_text())
    assert isinstance(findings, list) and len(findings) == 3
    assert (tmp_path / "f.json").stat().st_mode & 0o777 == 0o600  # it holds PHI
    for f in findings:
        assert {"rule", "severity", "user_id", "mrn", "event_ids", "explanation", "muted", "risk"} <= set(f)
        assert f["muted"] is False and f["user_id"] == "n.muller"
    assert {(f["rule"], f["mrn"], tuple(f["event_ids"])) for f in findings} == {
        ("family-access", "P-FAM", ("ehr-1",)), ("neighbor-access", "P-NEI", ("ehr-2",)),
        ("coworker-access", "P-COW", ("ehr-3",))}


def test_findings_csv_to_stdout_and_utc_note(auditor, home):
    populate(home, tz=None)
    code, out, err = auditor("findings", "--from", "2026-11-02", "--to", "2026-11-02", "--format", "csv", user="officer")
    assert code == 0
    assert out.splitlines()[0].startswith("case,rule,severity,risk,user_id,mrn,event_ids")
    assert "using UTC" in err


def test_findings_usage_errors(auditor, home):
    code, _, err = auditor("findings", "--from", "2026-11-30", "--to", "2026-11-01")
    assert code == 2 and err.strip() == "auditor: --to is before --from"
    code, _, err = auditor("findings", "--from", "yesterday", "--to", "2026-11-01")
    assert code == 2 and "Traceback" not in err


def test_policy_lint_clean_and_broken(auditor, tmp_path):
    code, out, _ = auditor("policy", "lint")
    assert code == 0 and "OK: 15 rules" in out
    rules = tmp_path / "rules"
    shutil.copytree(POLICIES_DIR / "rules", rules)
    vip = rules / "vip-access.yaml"
    vip.write_text(vip.read_text().replace("severity: high", "severity: severe").replace("status: stable", "status: ok"))
    code, out, _ = auditor("policy", "lint", "--rules-dir", str(rules))
    assert code == 2
    lines = out.splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{vip}:") for line in lines)

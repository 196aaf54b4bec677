"""Hand-written interchange cases for every rule, run through the real command line.

Each folder of tests/policy/spec_cases is an interchange export (workforce, patients, encounters,
care_team, access_log .csv, per ../shared/spec/interchange.md) and an expected.yaml written from the
contract's text: the organisation's time zone, the period, every finding expected (rule, user, MRN,
event ids; severity where the contract fixes it) and near misses (events a rule must not flag).
The test runs `auditor init`, `auditor ingest DIR --tz ZONE` and `auditor findings --from --to
--format json --out` in-process and requires exactly the expected findings: none missing, none extra.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from auditor.resources import POLICIES_DIR

CASES_DIR = Path(__file__).parent / "spec_cases"
CASES = sorted(p for p in CASES_DIR.iterdir() if (p / "expected.yaml").is_file())
SEVERITIES = {"low", "medium", "high", "critical"}
RULE_IDS = sorted(p.stem for p in (POLICIES_DIR / "rules").glob("*.yaml"))
_FILE_LINE = re.compile(r"^\s*(\w+\.csv): (\d+) lines: (\d+) loaded, (\d+) already present, (\d+) rejected", re.M)


def expectations(case: Path) -> dict:
    return yaml.safe_load((case / "expected.yaml").read_text(encoding="utf-8"))


def _key(rule: str, user_id: str, mrn: str | None, events) -> tuple:
    return rule, user_id, mrn, tuple(sorted(events))


def _ingest_everything(auditor, case: Path, tz: str) -> None:
    code, out, err = auditor("ingest", str(case), "--tz", tz)
    assert code == 0, err
    counts = {name: (int(rows), int(loaded), int(rejected))
              for name, rows, loaded, _present, rejected in _FILE_LINE.findall(out)}
    present = {p.name for p in case.glob("*.csv")}
    assert set(counts) == present, out
    for name, (rows, loaded, rejected) in counts.items():  # a typo in a hand-written row must not vanish
        assert rejected == 0 and loaded == rows, f"{case.name}/{name}: {out}"


def _findings(auditor, case: Path, spec: dict, out: Path) -> list[dict]:
    code, _, err = auditor("findings", "--from", str(spec["from"]), "--to", str(spec["to"]),
                           "--format", "json", "--out", str(out), user="officer")
    assert code == 0, err
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_spec_case(case, auditor, tmp_path):
    spec = expectations(case)
    assert auditor("init")[0] == 0
    _ingest_everything(auditor, case, spec["tz"])
    found = _findings(auditor, case, spec, tmp_path / "findings.json")

    got = {_key(f["rule"], f["user_id"], f["mrn"], f["event_ids"]): f for f in found}
    assert len(got) == len(found), "two findings with the same rule, user, MRN and events"
    want = {_key(e["rule"], e["user_id"], e["mrn"], e["events"]): e for e in spec["findings"]}
    assert len(want) == len(spec["findings"]), "expected.yaml lists a finding twice"
    missing = sorted(set(want) - set(got), key=str)
    extra = sorted(set(got) - set(want), key=str)
    assert not missing and not extra, f"missing: {missing}\nextra: {extra}"
    for key, e in want.items():
        if "severity" in e:
            assert got[key]["severity"] == e["severity"], key
    for f in found:  # the contract's fields: one plain sentence, a known severity, nothing muted here
        assert f["severity"] in SEVERITIES and f["muted"] is False, f
        sentence = f["explanation"]
        assert sentence.endswith(".") and "\n" not in sentence and "{" not in sentence, sentence

    flagged = {(f["rule"], event) for f in found for event in f["event_ids"]}
    for near in spec.get("near_misses", []):
        wrongly = [event for event in near["events"] if (near["rule"], event) in flagged]
        assert not wrongly, f"{near['rule']} flagged {wrongly}: {near['why']}"


def test_every_rule_has_a_firing_case_and_a_near_miss():
    fired, missed, zones = set(), set(), set()
    for case in CASES:
        spec = expectations(case)
        zones.add(spec["tz"])
        fired |= {e["rule"] for e in spec["findings"]}
        missed |= {n["rule"] for n in spec.get("near_misses", [])}
        assert fired | missed <= set(RULE_IDS), case
    assert len(RULE_IDS) == 15
    assert set(RULE_IDS) - fired == set(), "rules without a firing case"
    assert set(RULE_IDS) - missed == set(), "rules without a near miss"
    assert "America/New_York" in zones and zones & {"Europe/Berlin", "Pacific/Auckland"}


def test_near_misses_name_events_of_their_case():
    """A near miss naming an event id that is not in the case's access log would pass vacuously."""
    for case in CASES:
        spec = expectations(case)
        ids = {line.split(",", 1)[0] for line in (case / "access_log.csv").read_text(encoding="utf-8").splitlines()[1:]}
        named = {event for item in spec["findings"] + spec.get("near_misses", []) for event in item["events"]}
        assert named <= ids, (case.name, sorted(named - ids))

"""`auditor explain mine | approve | list` through the command line, on a simulated month whose
therapists sometimes cover for a colleague of their department on the care team (work the contract's
rules leave unexplained): mining proposes the template that explains it, with its support and risk;
it explains nothing until a privacy officer approves it into the site's folder; the approval and its
file go together or not at all."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest

SIZE = ("--events", "20000", "--workforce", "150", "--patients", "2000")
MONTH = ("--from", "2026-11-01", "--to", "2026-11-30")
TEMPLATE = "department_care_team:days=1"


@pytest.fixture
def month(auditor, tmp_path):
    out = tmp_path / "hospital"
    assert auditor("simulate", "--out", out, "--seed", "2", *SIZE).code == 0
    assert auditor("init").code == 0
    assert auditor("ingest", out, "--tz", "America/New_York").code == 0
    site = tmp_path / "site"
    site.mkdir()
    return out, site


def _events(tmp_path, record_type: str) -> int:
    with closing(sqlite3.connect(tmp_path / "home" / "records.db")) as conn:
        return conn.execute("SELECT count(*) FROM audit_events WHERE record_type = ?", (record_type,)).fetchone()[0]


def _unexplained(auditor, site=None) -> int:
    args = ("findings", *MONTH, "--format", "json") + (("--site-policies", site) if site else ())
    result = auditor(*args, user="investigator")
    assert result.code == 0, result.err
    return sum(f["rule"] == "no-treatment-relationship" for f in json.loads(result.out))


def test_mining_proposes_and_an_officer_approves_into_the_site(auditor, month, tmp_path):
    out, site = month
    mined = auditor("explain", "mine", *MONTH, "--labels", out / "labels.csv", "--format", "json", user="officer")
    assert mined.code == 0, mined.err
    doc = json.loads(mined.out)
    top = doc["proposals"][0]
    assert top["kind"] == "department_care_team" and top["unexplained_explained"] > 10
    assert top["labelled_violations_explained_away"] == 0  # covering work, not an injected violation
    assert 0 < top["support"] <= 1 and doc["unexplained"] > top["unexplained_explained"]
    assert _events(tmp_path, "explanation_templates") == 1  # the mining run is audited
    text = auditor("explain", "mine", *MONTH, user="investigator")
    assert text.code == 0 and f"\t{TEMPLATE}\tsupport " in text.out and "risk: " in text.out

    before = _unexplained(auditor)
    assert _unexplained(auditor, site) == before  # mined, not approved: nothing changes
    refused = auditor("explain", "approve", TEMPLATE, "--site-policies", site, user="investigator")
    assert refused.code == 2 and refused.err.count("\n") == 1 and not (site / "explanations.yaml").exists()
    approved = auditor("explain", "approve", TEMPLATE, "--site-policies", site, user="officer")
    assert approved.code == 0, approved.err
    assert f"explanation template {TEMPLATE} approved by officer" in approved.out
    assert _events(tmp_path, "explanation_template") == 1
    assert _unexplained(auditor, site) < before  # the covering work is explained now
    listed = auditor("explain", "list", "--site-policies", site)
    assert listed.code == 0 and listed.out.startswith(f"{TEMPLATE}\tapproved by officer on ")
    again = auditor("explain", "mine", *MONTH, "--site-policies", site, "--format", "json", user="officer")
    assert TEMPLATE in json.loads(again.out)["approved"]
    assert TEMPLATE not in [p["id"] for p in json.loads(again.out)["proposals"]]
    twice = auditor("explain", "approve", TEMPLATE, "--site-policies", site, user="officer")
    assert twice.code == 2 and "is already approved" in twice.err
    assert auditor("audit", "verify").code == 0


@pytest.mark.parametrize("args, message", [
    (("explain", "approve", "nowhere:days=1"), "unknown template kind 'nowhere'"),
    (("explain", "approve", "department_care_team:days=-1"), "days must be a whole number from 0 to 365"),
    (("explain", "mine", "--from", "2026-11-31", "--to", "2026-11-30"), "--from"),
    (("explain", "list"), "no approved explanation template"),
])
def test_bad_input_is_one_line(auditor, tmp_path, args, message):
    assert auditor("init").code == 0
    site = tmp_path / "site"
    site.mkdir()
    result = auditor(*args, "--site-policies", site, user="officer")
    assert result.code == 2 and result.err.count("\n") == 1 and message in result.err, result


def test_an_approval_that_cannot_be_written_records_nothing(auditor, full_disk, tmp_path):
    assert auditor("init").code == 0
    before = _events(tmp_path, "explanation_template")
    (full_disk / "explanations.yaml").write_text("")
    with pytest.raises(OSError), open(full_disk / "rest", "wb") as rest:  # the last free bytes taken
        while True:
            rest.write(b"\0" * 4096)
            rest.flush()
    result = auditor("explain", "approve", TEMPLATE, "--site-policies", full_disk, user="officer")
    assert result.code == 2 and result.err.count("\n") == 1, result
    assert _events(tmp_path, "explanation_template") == before
    assert (full_disk / "explanations.yaml").read_text() == ""

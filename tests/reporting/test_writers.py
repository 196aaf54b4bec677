"""findings.json and findings.csv byte for byte as the CLI contract's first writer made them (json.dumps
of Finding.to_dict, csv.DictWriter): the fast writers must not change a character of either file."""

from __future__ import annotations

import csv
import io
import json

import pytest

from auditor.policy.findings import Finding
from auditor.reporting.writers import FINDING_COLUMNS, findings_csv, findings_json, findings_json_bytes, write_findings

AWKWARD = ['Nurse Z. Müller (Cardiology) opened "the chart", twice; on 2026-11-02.', "line\nbreak\r\ttab",
           "".join(chr(c) for c in range(32)) + "\x7f\u2028\u2029", "Zoë 中 😀 </script>", "", "back\\slash"]


def _reference_json(findings: list[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False) + "\n"


def _reference_csv(findings: list[Finding]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, FINDING_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in (f.to_dict() for f in findings):
        writer.writerow({**row, "event_ids": ";".join(row["event_ids"]), "muted": str(row["muted"]).lower()})
    return out.getvalue()


def _findings() -> list[Finding]:
    out = []
    for i, text in enumerate(AWKWARD):
        out.append(Finding(rule="family-access", severity="high", user_id=f"u,{i}" if i % 2 else f"u{i}",
                           patient_id=None if i == 1 else i, mrn=None if i == 1 else f"MRN-{text[:3]}",
                           event_ids=[f"ehr-{i}", f'e"{i}'] if i % 3 else [], risk=70 + i, explanation=text,
                           muted=i == 2, title=text[::-1], first_at="2026-11-02T15:00:00+00:00",
                           last_at="2026-11-03T15:00:00+00:00", citations=[] if i == 4 else ["45 CFR 164.312(b)"],
                           case=None if i == 2 else i + 1))
    return out


@pytest.mark.parametrize("findings", [_findings(), _findings()[:1], []], ids=["awkward", "one", "none"])
def test_findings_files_as_the_first_writer_made_them(findings, tmp_path):
    assert findings_json(findings) == _reference_json(findings)
    assert findings_json_bytes(findings) == _reference_json(findings).encode("utf-8")
    assert findings_csv(findings) == _reference_csv(findings)
    paths = write_findings(tmp_path, findings)
    assert paths["json"].read_bytes() == _reference_json(findings).encode("utf-8")
    assert paths["csv"].read_bytes() == _reference_csv(findings).encode("utf-8")

"""findings.json and findings.csv byte for byte as the CLI contract's first writer made them (json.dumps
of Finding.to_dict, csv.DictWriter), except that a CSV cell starting like a spreadsheet formula gets a
quote in front and a row with a carriage return in a cell has its text quoted (CSV injection): the fast
writers must not change another character of either file. And, for any text, no CSV cell the auditor
writes opens as a formula."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.policy.findings import Finding
from auditor.reporting.writers import (FINDING_COLUMNS, FORMULA_STARTS, csv_text, findings_csv, findings_json,
                                       findings_json_bytes, findings_jsonl_bytes, spreadsheet_safe, write_findings)

AWKWARD = ['Nurse Z. Müller (Cardiology) opened "the chart", twice; on 2026-11-02.', "line\nbreak\r\ttab",
           "".join(chr(c) for c in range(32)) + "\x7f\u2028\u2029", "Zoë 中 😀 </script>", "", "back\\slash",
           "=HYPERLINK(\"http://evil.example\",\"x\")", "@SUM(A1)", "+cmd|' /C calc'!A0", "-1", "\t=1", "\r=1"]


def _reference_json(findings: list[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False) + "\n"


def _reference_csv(findings: list[Finding]) -> str:
    def cell(value):
        return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value

    out = io.StringIO()
    plain = csv.DictWriter(out, FINDING_COLUMNS, extrasaction="ignore", lineterminator="\n")
    quoted = csv.DictWriter(out, FINDING_COLUMNS, extrasaction="ignore", lineterminator="\n",
                            quoting=csv.QUOTE_NONNUMERIC)
    plain.writeheader()
    for row in (f.to_dict() for f in findings):
        row = {k: cell(v) for k, v in {**row, "event_ids": ";".join(row["event_ids"]),
                                        "muted": str(row["muted"]).lower()}.items()}
        cr = any(isinstance(v, str) and "\r" in v for k, v in row.items() if k in FINDING_COLUMNS)
        (quoted if cr else plain).writerow(row)
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


@pytest.mark.parametrize("findings", [_findings(), []], ids=["awkward", "none"])
def test_findings_as_json_lines_are_one_finding_a_line_with_the_json_s_content(findings):
    """For a SIEM: each line parses alone to the finding the JSON array holds (a line break in a
    sentence is escaped, so no finding spans two lines)."""
    lines = findings_jsonl_bytes(findings).decode("utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == len(findings) + 1
    assert [json.loads(line) for line in lines[:-1]] == json.loads(findings_json(findings))


@given(st.text())
def test_a_cell_never_opens_as_a_formula(text):
    [cell] = spreadsheet_safe([text])
    assert not cell.startswith(FORMULA_STARTS)
    assert cell == ("'" + text if text[:1] in "=+-@\t\r" and text else text)


@given(st.lists(st.one_of(st.none(), st.integers(), st.text()), max_size=8))
def test_numbers_and_empty_cells_pass_unchanged(cells):
    safe = spreadsheet_safe(cells)
    assert [c for c in safe if not isinstance(c, str)] == [c for c in cells if not isinstance(c, str)]


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
_FINDINGS = st.lists(st.builds(
    Finding, rule=_TEXT, severity=st.sampled_from(["low", "medium", "high", "critical"]), user_id=_TEXT,
    patient_id=st.none() | st.integers(1, 10**6), mrn=st.none() | _TEXT, event_ids=st.lists(_TEXT, max_size=3),
    risk=st.integers(0, 100), explanation=_TEXT, muted=st.booleans(), title=_TEXT, first_at=_TEXT, last_at=_TEXT,
    case=st.none() | st.integers(1, 10**6)), max_size=6)


@settings(max_examples=300, deadline=None)
@given(_FINDINGS)
def test_findings_csv_reads_back_as_written_and_never_as_a_formula(findings):
    text = findings_csv(findings)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == FINDING_COLUMNS and len(rows) == len(findings) + 1  # no cell split a row
    for f, row in zip(findings, rows[1:]):
        assert all(not cell.startswith(FORMULA_STARTS) for cell in row)
        text_cells = [f.rule, f.severity, f.user_id, f.mrn or "", ";".join(f.event_ids), f.explanation,
                      f.first_at, f.last_at, f.title]
        got = [row[1], row[2], row[4], row[5], row[6], row[7], row[9], row[10], row[11]]
        assert got == spreadsheet_safe(text_cells)
        assert row[3] == str(f.risk) and row[0] == ("" if f.case is None else str(f.case))  # numbers as numbers


@given(st.lists(st.lists(_TEXT, min_size=2, max_size=2), max_size=5))
def test_csv_text_neutralises_every_column(rows):
    columns = [list(c) for c in zip(*rows)] or [[], []]
    parsed = list(csv.reader(io.StringIO(csv_text(["-a", "b"], columns), newline="")))
    assert parsed[0] == ["'-a", "b"] and len(parsed) == len(rows) + 1
    assert all(not cell.startswith(FORMULA_STARTS) for row in parsed for cell in row)

"""The monthly report's data completeness (auditor.ingest.quarantine.ingest_runs): the month's
quarantined rows counted by file and reason, most rows first, ties in an order of their own (by file,
then reason) on both databases; runs outside the month are not counted."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from auditor.ingest.quarantine import ingest_runs
from auditor.vault.gateway import AccessContext
from auditor.vault.quarantine_entry import QuarantineEntry

NOVEMBER = datetime(2026, 11, 1, tzinfo=timezone.utc), datetime(2026, 12, 1, tzinfo=timezone.utc)


def _run(vault, at: datetime, rows: list[tuple[str, str]]) -> int:
    vault.clock.at = at
    run = vault.gateway.start_ingest_run("ehr", "America/New_York")
    entries = [QuarantineEntry(file, line, reason, f"raw {at:%d} {file} {line}") for line, (file, reason) in enumerate(rows, 2)]
    assert vault.gateway.quarantine_rows(AccessContext.service("import"), run, "ehr", entries) == len(entries)
    return run


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_the_months_quarantined_rows_by_file_and_reason_most_first_ties_in_one_order(vault):
    # quarantined in an order the ties do not follow: b.csv's y before a.csv's z
    _run(vault, datetime(2026, 11, 3, tzinfo=timezone.utc),
         [("b.csv", "y"), ("b.csv", "w"), ("a.csv", "x"), ("a.csv", "z"), ("a.csv", "x")])
    _run(vault, datetime(2026, 11, 20, tzinfo=timezone.utc), [("a.csv", "z"), ("b.csv", "y"), ("a.csv", "x")])
    _run(vault, datetime(2026, 12, 2, tzinfo=timezone.utc), [("c.csv", "v")] * 4)  # December's: not November's
    runs = ingest_runs(vault.records, *NOVEMBER)
    assert len(runs.runs) == 2 and runs.quarantined == 8
    assert runs.reasons == [("a.csv", "x", 3), ("a.csv", "z", 2), ("b.csv", "y", 2), ("b.csv", "w", 1)]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_month_without_runs_has_no_quarantine(vault):
    runs = ingest_runs(vault.records, *NOVEMBER)
    assert (runs.runs, runs.quarantined, runs.reasons) == ([], 0, [])

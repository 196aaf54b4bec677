"""What attach_findings reads of the findings a member's cases already hold: only those whose span
of event times meets the new findings' (a finding held that shares an event with them must), so a
review does not read every month's findings again. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from auditor.cases.attach import attach_findings
from auditor.policy.findings import Finding
from auditor.vault.gateway.casework import Casework


def _finding(events: list[str], at: str, patient: int | None = None) -> Finding:
    return Finding(rule="after-hours", severity="medium", user_id="dr.house", patient_id=patient, mrn=None,
                   event_ids=events, risk=45, explanation="worked outside their shift.", first_at=at, last_at=at)


def test_a_held_finding_counts_for_the_events_of_its_own_times_only(vault):
    casework = Casework(vault.gateway)
    october = attach_findings(casework, [_finding(["e1", "e2"], "2026-10-02T15:00:00+00:00")],
                              date(2026, 10, 1), date(2026, 10, 31))
    case = october.opened[0]
    # the same events, as a narrower rerun of October finds them: in the case already, nothing added
    rerun = [_finding(["e1"], "2026-10-02T15:00:00+00:00", patient=7)]
    assert attach_findings(casework, rerun, date(2026, 10, 2), date(2026, 10, 2)).added == 0
    assert rerun[0].case == case
    # an event id seen again a month later is another event (a source that reuses its ids): a new finding,
    # whatever else is attached with it (another member's finding whose span reaches back to October)
    november = [_finding(["e1"], "2026-11-20T15:00:00+00:00", patient=7),
                replace(_finding(["x9"], "2026-09-30T15:00:00+00:00"), user_id="dr.wilson", last_at="2026-11-02T15:00:00+00:00")]
    assert attach_findings(casework, november, date(2026, 11, 1), date(2026, 11, 30)).added == 2
    assert november[0].case == case  # the member's case, still open, takes it

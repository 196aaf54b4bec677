"""`auditor cases list`: a case is overdue once more than overdue_after_days have passed since it
was opened, not at that moment itself, judged to the microsecond on the command's clock; the
monthly report's count of overdue cases agrees with the list at every moment."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from auditor.cases.settings import CaseSettings
from auditor.cases.statistics import cases_overdue
from auditor.clock import FixedClock
from auditor.home import create_home
from auditor.policy.frames import Period
from tests.conftest import FAST_SCRYPT
from tests.policy.vault_data import populate

OPENED = datetime(2026, 11, 2, 16, 30, 0, 123456, tzinfo=timezone.utc)
DUE = OPENED + timedelta(days=30)  # policies/cases.yaml: overdue_after_days 30
US = timedelta(microseconds=1)


@pytest.fixture
def opened_case(auditor, tmp_path, clock):
    """Case 1 (n.muller's three findings), opened by `auditor findings` at OPENED."""
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    try:
        populate(vault)
    finally:
        vault.close()
    done = auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--out", tmp_path / "f.json",
                   clock=FixedClock(OPENED), user="officer")
    assert done.code == 0 and "1 opened" in done.out, done.err
    return tmp_path / "home"


@pytest.mark.parametrize("now, overdue", [(DUE - US, False), (DUE, False), (DUE + US, True),
                                          (DUE + timedelta(days=1), True)])
def test_overdue_only_after_the_full_delay(auditor, opened_case, now, overdue):
    listed = auditor("cases", "list", "--format", "json", clock=FixedClock(now), user="officer")
    assert listed.code == 0, listed.err
    (case,) = json.loads(listed.out)
    assert case["opened_at"] == OPENED.isoformat() and case["overdue"] is overdue
    late = auditor("cases", "list", "--status", "overdue", clock=FixedClock(now), user="officer")
    assert late.code == 0 and late.err.startswith(f"{int(overdue)} case(s); review budget 1000 a month")
    assert late.out.rstrip().endswith("\tOVERDUE") if overdue else late.out == ""


@pytest.mark.parametrize("now", [DUE - US, DUE, DUE + US])
def test_the_report_counts_overdue_as_the_list_shows_it(auditor, opened_case, now):
    from auditor.home import Vault

    vault = Vault.open(opened_case, clock=FixedClock(now))
    try:
        december = Period(date(2026, 12, 1), date(2026, 12, 31), ZoneInfo("America/New_York"))
        counted = cases_overdue(vault.records, december, CaseSettings(30), now)
    finally:
        vault.close()
    listed = json.loads(auditor("cases", "list", "--status", "overdue", "--format", "json",
                                clock=FixedClock(now), user="officer").out)
    assert counted == [c["id"] for c in listed]

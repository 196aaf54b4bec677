"""A patient's access report as a use case: the period up to the organisation's today, every access
in the engine's words, and an unknown MRN refused without repeating it."""

from __future__ import annotations

from datetime import date

import pytest

from auditor.errors import InputError, NotFound
from auditor.reporting.patient import patient_context
from auditor.reporting.templates import load_site
from auditor.review.patient_access import patient_access_report


def test_three_years_up_to_the_organisations_today_by_default(month_vault):
    report = patient_access_report(month_vault, "P-OK")
    assert month_vault.today() == date(2026, 11, 2)
    assert (report.first_day, report.last_day) == (date(2023, 11, 2), date(2026, 11, 2))
    assert report.patient.mrn == "P-OK" and report.timezone == month_vault.timezone


def test_every_access_in_the_engines_words(month_vault):
    report = patient_access_report(month_vault, "P-OK", date(2026, 10, 1), date(2026, 11, 30))
    assert len(report.accesses) == 5 and report.users == 4 and report.unexplained == 4
    assert [a.at for a in report.accesses] == sorted(a.at for a in report.accesses)
    assert all(a.at.tzinfo is not None and a.at.utcoffset() == month_vault.timezone.utcoffset(a.at.replace(tzinfo=None))
               for a in report.accesses)
    assert {a.explained_by for a in report.accesses} == {"department", None}
    context = patient_context(report, load_site(None))
    assert context["unexplained"] == 4 and context["patient"]["name"] == "Kay, Otto"


def test_an_unknown_patient_or_days_the_wrong_way_round_are_refused(month_vault):
    with pytest.raises(NotFound) as refused:
        patient_access_report(month_vault, "P-NOBODY")
    assert "P-NOBODY" not in str(refused.value)
    with pytest.raises(InputError, match="--to is before --from"):
        patient_access_report(month_vault, "P-OK", date(2026, 11, 2), date(2026, 11, 1))

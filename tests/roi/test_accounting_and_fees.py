"""The accounting's grouping and suspensions (45 CFR 164.528), and the fee rules (164.524(c)(4))."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import yaml
from hypothesis import given, strategies as st

from auditor.errors import ConfigurationError
from auditor.resources import POLICIES_DIR
from auditor.roi.accounting import Suspension, six_years_before, summarise
from auditor.roi.fees import invoice_lines, total
from auditor.roi.policy import load_roi_policy

AS_OF = date(2026, 11, 25)
entry = st.fixed_dictionaries({
    "at": st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2026, 11, 25, 23)).map(
        lambda d: d.replace(tzinfo=timezone.utc)),
    "recipient": st.sampled_from(["City Police", "State Health Dept", "Court Clerk"]).map(
        lambda n: {"name": n, "address": "somewhere"}),
    "purpose": st.sampled_from(["GOV", "PUBHLTH", "HLEGAL"]),
    "accountable": st.booleans(),
    "legal_basis": st.just("45 CFR 164.512"), "description": st.just("labs"),
})


@given(ledger=st.lists(entry, max_size=30), suspended_police=st.booleans())
def test_the_accounting_holds_exactly_the_accountable_disclosures(ledger, suspended_police):
    first = six_years_before(AS_OF)
    suspensions = [Suspension("city police", AS_OF - timedelta(days=5), AS_OF + timedelta(days=5))] if suspended_police else []
    entries, suspended = summarise(ledger, first, AS_OF, suspensions, AS_OF)
    counted = [e for e in ledger if e["accountable"] and first <= e["at"].date() <= AS_OF]
    police = [e for e in counted if e["recipient"]["name"] == "City Police"]
    assert suspended == (len(police) if suspended_police else 0)
    assert sum(g["count"] for g in entries) == len(counted) - suspended
    assert len(entries) == len({(e["recipient"]["name"], e["purpose"]) for e in counted
                                if not (suspended_police and e in police)})
    for g in entries:
        assert g["first"] <= g["last"]


def test_a_suspension_ended_is_honoured_no_longer():
    ledger = [{"at": datetime(2026, 1, 5, tzinfo=timezone.utc), "recipient": {"name": "City Police", "address": ""},
               "purpose": "GOV", "accountable": True, "legal_basis": "164.512(f)", "description": "labs"}]
    over = [Suspension("City Police", date(2026, 1, 1), date(2026, 1, 30))]
    assert summarise(ledger, date(2020, 11, 25), AS_OF, over, AS_OF)[1] == 0


def test_six_years_back_from_a_leap_day():
    assert six_years_before(date(2028, 2, 29)) == date(2022, 2, 28)
    assert six_years_before(AS_OF) == date(2020, 11, 25)


def test_fees_flat_electronic_or_cost_based_never_search():
    fees = load_roi_policy().fees
    assert total(invoice_lines("access", "pdf", 40, fees)) == Decimal("6.50")
    paper = invoice_lines("access", "paper", 10, fees)
    assert total(paper) == Decimal("3.00") and not any("search" in line.what.lower() for line in paper)
    assert total(invoice_lines("disclosure", "paper", 10, fees)) == Decimal("0.00")


@pytest.mark.parametrize("change, message", [
    ({"cost_based": {"search_fee": 5.0, "postage": 1.0}}, "search or retrieval fee"),
    ({"flat_electronic": 9.99}, "at most \\$6.50"),
])
def test_a_fee_schedule_that_breaks_the_rule_is_refused(tmp_path, change, message):
    folder = tmp_path / "roi"
    shutil.copytree(POLICIES_DIR / "roi", folder)
    doc = yaml.safe_load((folder / "fees.yaml").read_text())
    doc.update(change)
    (folder / "fees.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigurationError, match=message):
        load_roi_policy(folder)

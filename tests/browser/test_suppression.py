"""Propose and approve a suppression in a browser, two people: an investigator judges a case's finding a
false positive and proposes muting it from the case page; the proposal mutes nothing and the
investigator cannot approve it (no button; the approval posted anyway, with the page's CSRF token, is
refused 403); a privacy officer, another person in a browser of their own, approves it on the
Suppressions page. An officer cannot approve their own proposal either (two people)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from auditor.cases.settings import load_case_settings
from auditor.review.casework import case_file, list_cases, list_suppressions
from tests.browser.axe import assert_accessible


def _cases_with_a_patient(office) -> list[tuple[int, int]]:
    """(case id, finding id) of open cases whose finding names a patient: what a suppression mutes."""
    settings, found = load_case_settings(), []
    for case in list_cases(office.vault, settings, status="open")[:10]:
        findings = [f for f in case_file(office.vault, case.id, settings).findings if f.patient_id is not None]
        if findings:
            found.append((case.id, findings[0].finding_id))
    assert len(found) >= 2, "the office has too few cases naming a patient"
    return found


def _propose(page, office, case_id: int, finding_id: int, reason: str) -> int:
    """Propose from the case page; the new suppression's id, as the vault keeps it."""
    page.goto(f"/cases/{case_id}")
    page.get_by_label("Finding").select_option(str(finding_id))
    page.get_by_label("Reason").fill(reason)
    page.get_by_label("Last day").fill("2027-02-28")
    page.get_by_role("button", name="Propose the suppression").click()
    expect(page.get_by_role("status")).to_contain_text("Suppression proposed")
    return max(s.id for s in list_suppressions(office.vault))


def _pending_row(page, suppression_id: int):
    return page.locator("#pending tbody tr").filter(has=page.get_by_role("cell", name=str(suppression_id), exact=True))


def _post_approval(page, suppression_id: int):
    """The approval as a forged click would send it: this session's own CSRF token, no button needed."""
    token = page.locator("input[name=csrf_token]").first.input_value()
    return page.request.post(f"/suppressions/{suppression_id}/approve", form={"csrf_token": token},
                             max_redirects=0)


@pytest.mark.parametrize("role", ["investigator"])
def test_an_investigator_proposes_and_another_person_approves(page, office, person, role):
    (case_id, finding_id), (other_case, other_finding) = _cases_with_a_patient(office)[:2]
    page.goto(f"/cases/{case_id}")
    assert_accessible(page)
    suppression_id = _propose(page, office, case_id, finding_id, "Covering the ward's night shift that week.")
    assert_accessible(page)
    proposed = next(s for s in list_suppressions(office.vault) if s.id == suppression_id)
    assert (proposed.proposed_by, proposed.approver) == (office.staff[role].user, "")

    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Suppressions").click()
    row = _pending_row(page, suppression_id)
    expect(row).to_contain_text("Covering the ward's night shift that week.")
    expect(row.get_by_role("button", name="Approve")).to_have_count(0)
    assert_accessible(page)
    assert _post_approval(page, suppression_id).status == 403

    officer = person("privacy_officer")
    officer.get_by_role("navigation", name="Pages").get_by_role("link", name="Suppressions").click()
    assert_accessible(officer)
    _pending_row(officer, suppression_id).get_by_role("button", name="Approve").click()
    expect(officer.get_by_role("status")).to_have_text(
        f"Suppression {suppression_id} approved: from now on it mutes its findings. It muted 1 finding(s) in case "
        f"{case_id}.")  # the proposed finding, in its open case
    officer.goto(f"/cases/{case_id}")
    expect(officer.locator("#findings tr.muted")).to_contain_text(f"muted by suppression {suppression_id}")
    assert_accessible(officer)
    officer.get_by_role("navigation", name="Pages").get_by_role("link", name="Suppressions").click()
    expect(_pending_row(officer, suppression_id)).to_have_count(0)
    assert_accessible(officer)
    approved = next(s for s in list_suppressions(office.vault) if s.id == suppression_id)
    assert (approved.status, approved.approver, approved.proposed_by) == ("active", office.staff["privacy_officer"].user,
                                                                           office.staff[role].user)

    # an officer's own proposal: no button for them, and the approval posted anyway is refused
    own = _propose(officer, office, other_case, other_finding, "Same member, same cover.")
    officer.goto("/suppressions")
    expect(_pending_row(officer, own)).to_contain_text("Same member, same cover.")
    expect(_pending_row(officer, own).get_by_role("button", name="Approve")).to_have_count(0)
    refused = _post_approval(officer, own)
    assert refused.status == 400 and "another officer approves it" in refused.text()
    assert next(s for s in list_suppressions(office.vault) if s.id == own).approver == ""

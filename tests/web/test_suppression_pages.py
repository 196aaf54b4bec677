"""False positive on the case page: an investigator proposes a suppression of a finding, which mutes
nothing until a privacy officer (another account) approves it on the Suppressions page."""

from __future__ import annotations

import re

from sqlalchemy import select

from auditor.policy.rules import load_policy
from auditor.review.period import month_period, review_period
from auditor.staff.accounts import StaffAccounts
from auditor.vault.integrity import verify_vault
from auditor.vault.records import CaseFinding, Suppression
from tests.web.conftest import PASSWORD, Staff, csrf_of, sign_in


def _vip_finding(web_vault, case_id: int) -> int:
    with web_vault.records.connect() as conn:
        return conn.scalar(select(CaseFinding.id).where(CaseFinding.case_id == case_id,
                                                        CaseFinding.rule == "vip-access"))


def _muted(web_vault) -> list[bool]:
    review = review_period(web_vault, month_period("2026-11", web_vault.timezone), load_policy())
    return [f.muted for f in review.findings if f.rule == "vip-access"]


def test_an_investigator_proposes_and_another_officer_approves(new_client, staff, clock, november, web_vault):
    investigator = sign_in(new_client(), staff["investigator"], clock)
    case_id = november["n.muller"]
    page = investigator.get(f"/cases/{case_id}")
    assert "False positive: propose a suppression" in page.text
    finding = _vip_finding(web_vault, case_id)
    assert f'<option value="{finding}">vip-access: Star, Vera (P-VIP)</option>' in page.text
    done = investigator.post(f"/cases/{case_id}/propose", data={
        "finding": str(finding), "reason": "her own mother, on record", "expires": "2027-03-31",
        "csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and "Suppression proposed" in done.text
    assert _muted(web_vault) == [False]
    listed = investigator.get("/suppressions")
    assert "her own mother, on record" in listed.text and "P-VIP" in listed.text
    assert 'action="/suppressions/' not in listed.text  # an investigator approves nothing

    officer = sign_in(new_client(), staff["privacy_officer"], clock)
    pending = officer.get("/suppressions")
    (approve,) = re.findall(r'action="(/suppressions/\d+/approve)"', pending.text)
    approved = officer.post(approve, data={"csrf_token": csrf_of(pending.text)})
    assert approved.status_code == 200 and "approved" in approved.text and "No proposal awaits" in approved.text
    assert _muted(web_vault) == [True]
    assert verify_vault(web_vault.records, web_vault.keyring, [web_vault.checkpoints.path]).ok


def test_the_proposer_cannot_approve_her_own_proposal(new_client, staff, clock, november, web_vault):
    admin = next(a for a in StaffAccounts(web_vault).list() if a.user_name == "admin")
    made = StaffAccounts(web_vault).add("olga", "Olga Officer", ("privacy_officer",), PASSWORD, admin)
    olga = sign_in(new_client(), Staff("olga", PASSWORD, made.otpauth_uri), clock)
    case_id = november["n.muller"]
    page = olga.get(f"/cases/{case_id}")
    csrf = csrf_of(page.text)
    bad = olga.post(f"/cases/{case_id}/propose", data={"finding": "x", "reason": "r", "expires": "2027-01-01",
                                                      "csrf_token": csrf})
    assert bad.status_code == 400 and "choose a finding" in bad.text
    past = olga.post(f"/cases/{case_id}/propose", data={"finding": str(_vip_finding(web_vault, case_id)),
                                                       "reason": "r", "expires": "2026-11-01", "csrf_token": csrf})
    assert past.status_code == 400 and "already past" in past.text
    olga.post(f"/cases/{case_id}/propose", data={"finding": str(_vip_finding(web_vault, case_id)), "reason": "r",
                                                "expires": "2027-01-01", "csrf_token": csrf})
    with web_vault.records.connect() as conn:
        (proposed,) = conn.scalars(select(Suppression.id)).all()
    listed = olga.get("/suppressions")
    assert 'action="/suppressions/' not in listed.text  # no button on her own proposal
    refused = olga.post(f"/suppressions/{proposed}/approve", data={"csrf_token": csrf})
    assert refused.status_code == 400 and "another officer approves it" in refused.text
    assert _muted(web_vault) == [False]


def test_an_approved_proposal_mutes_its_finding_in_the_open_case(new_client, staff, clock, november, web_vault):
    """The approval marks the finding muted on the case page (with its suppression), the history says
    who muted what, and the queue counts the case without it."""
    investigator = sign_in(new_client(), staff["investigator"], clock)
    case_id = november["n.muller"]
    page = investigator.get(f"/cases/{case_id}")
    finding = _vip_finding(web_vault, case_id)
    investigator.post(f"/cases/{case_id}/propose", data={"finding": str(finding), "reason": "her own mother",
                                                         "expires": "2027-03-31", "csrf_token": csrf_of(page.text)})
    officer = sign_in(new_client(), staff["privacy_officer"], clock)
    pending = officer.get("/suppressions")
    (approve,) = re.findall(r'action="(/suppressions/(\d+)/approve)"', pending.text)
    approved = officer.post(approve[0], data={"csrf_token": csrf_of(pending.text)})
    assert f"It muted 1 finding(s) in case {case_id}." in approved.text
    shown = officer.get(f"/cases/{case_id}").text
    (row,) = [r for r in shown.split('<table id="findings">')[1].split("</table>")[0].split("<tr")
              if "<td>vip-access</td>" in r]
    assert row.startswith(' class="muted">') and f"<td>muted by suppression {approve[1]}</td>" in row
    assert "1 muted)" in shown.split('<p class="lead">')[1].split("</p>")[0]
    assert f"findings muted by privacy_officer, open; 1 finding(s) muted by suppression {approve[1]}</li>" in shown
    assert f'<option value="{finding}">' not in shown  # a muted finding is not proposed again
    queue = officer.get("/cases?status=any").text
    (listed,) = [r for r in queue.split("<tr")[1:] if f'<a href="/cases/{case_id}">' in r]
    assert "vip-access" not in listed and "(1 muted)" in listed
    assert "No case matches" in officer.get("/cases?rule=vip-access&status=any").text
    assert verify_vault(web_vault.records, web_vault.keyring, [web_vault.checkpoints.path]).ok

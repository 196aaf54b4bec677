"""The triage queue and the case page: the queue in triage order with its filters and pages (query
parameters, none of them PHI); the case page reading its patients through the gateway as the signed-in
account (an audit event in that person's name); review, note and close by the roles that may."""

from __future__ import annotations

from sqlalchemy import select

from auditor.audit.log import EVENTS
from auditor.vault.records import Case
from tests.web.conftest import csrf_of, sign_in


def _queue_users(html: str) -> list[str]:
    rows = html.split('<table id="queue">')[1].split('<tbody>')[1].split('</tbody>')[0].split("<tr")[1:]
    return [row.split("<td>")[3].split("</td>")[0] for row in rows]  # rank, case, member


def test_the_queue_is_ranked_critical_first_and_filters_and_pages(client, staff, clock, november):
    sign_in(client, staff["investigator"], clock)
    page = client.get("/cases")
    assert page.status_code == 200 and "<title>Triage queue" in page.text
    assert _queue_users(page.text) == ["t.gone", "n.muller", "b.glass", "c.coder"]  # b.glass: two findings
    assert f'<a href="/cases/{november["t.gone"]}">' in page.text and "<strong>critical</strong>" in page.text
    assert "All 4 of these cases are inside the office's review budget of 1000 cases a month." in page.text
    assert _queue_users(client.get("/cases?severity=critical").text) == ["t.gone"]
    assert _queue_users(client.get("/cases?department=emergency").text) == ["b.glass"]
    assert _queue_users(client.get("/cases?rule=vip-access&status=any").text) == ["n.muller"]
    assert "No case matches" in client.get("/cases?status=closed").text
    refused = client.get("/cases?rule=no-such-rule")
    assert refused.status_code == 400 and "no rule &#39;no-such-rule&#39; among the cases" in refused.text
    assert client.get("/cases?page=two").status_code == 400


def test_a_viewer_reads_the_filtered_queue_and_changes_nothing(client, staff, clock, november, web_vault):
    sign_in(client, staff["viewer"], clock)
    page = client.get("/cases?severity=medium&page=1")
    assert _queue_users(page.text) == ["t.gone", "b.glass"]
    assert "page 1 of 1" in page.text and 'rel="next"' not in page.text
    assert 'method="post" action="/cases' not in page.text


def _staff_reads(vault, user: str) -> list[tuple]:
    with vault.records.connect() as conn:
        return conn.execute(select(EVENTS.c.action, EVENTS.c.role, EVENTS.c.purpose, EVENTS.c.outcome,
                                   EVENTS.c.patient_id).where(EVENTS.c.user_id == user)).all()


def test_an_investigator_reads_the_case_as_herself_reviews_and_notes(client, staff, clock, november, web_vault):
    sign_in(client, staff["investigator"], clock)
    case_id = november["t.gone"]
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200 and f"<h1>Case {case_id}: t.gone</h1>" in page.text
    assert "(P-OK)" in page.text  # the patient, read through the gateway as the investigator
    reads = _staff_reads(web_vault, "investigator")
    assert reads and all(r[:4] == ("view", "investigator", "HCOMPL", "success") for r in reads)
    assert 'action="/cases/%d/close"' % case_id not in page.text  # only an officer closes
    timeline = page.text.split('<table id="timeline">')[1].split("</table>")[0]
    assert "<td>2026-11-04 11:00 EST</td>" in timeline and "(P-OK)" in timeline and "<td>yes</td>" in timeline
    csrf = csrf_of(page.text)
    reviewed = client.post(f"/cases/{case_id}/review", data={"note": "looking", "csrf_token": csrf})
    assert reviewed.status_code == 200 and "The case is under review." in reviewed.text
    noted = client.post(f"/cases/{case_id}/note", data={"text": "called the manager", "csrf_token": csrf})
    assert noted.status_code == 200 and "Note: called the manager" in noted.text
    assert "review started by investigator" in noted.text
    again = client.post(f"/cases/{case_id}/review", data={"csrf_token": csrf})
    assert again.status_code == 400 and "only an open case can be put under review" in again.text
    assert client.post(f"/cases/{case_id}/close", data={"disposition": "false_positive", "sanction": "none",
                                                       "csrf_token": csrf}).status_code == 403


def test_an_officer_closes_a_reviewed_case_with_disposition_and_sanction(client, staff, clock, november):
    sign_in(client, staff["privacy_officer"], clock)
    case_id = november["c.coder"]
    csrf = csrf_of(client.get(f"/cases/{case_id}").text)
    early = client.post(f"/cases/{case_id}/close", data={"disposition": "confirmed_violation",
                                                        "sanction": "education", "csrf_token": csrf})
    assert early.status_code == 400 and "open" in early.text
    client.post(f"/cases/{case_id}/review", data={"csrf_token": csrf})
    bad = client.post(f"/cases/{case_id}/close", data={"disposition": "maybe", "sanction": "none", "csrf_token": csrf})
    assert bad.status_code == 400 and "unknown disposition" in bad.text
    done = client.post(f"/cases/{case_id}/close", data={"disposition": "confirmed_violation",
                                                       "sanction": "education", "csrf_token": csrf})
    assert done.status_code == 200 and "Closed as confirmed violation, sanction education." in done.text
    assert _queue_users(client.get("/cases?status=closed").text) == ["c.coder"]
    assert client.get("/cases/99999").status_code == 404


def test_the_timeline_shows_break_the_glass_reasons_read_as_the_officer(client, staff, clock, november, web_vault):
    sign_in(client, staff["privacy_officer"], clock)
    glass = client.get(f"/cases/{november['b.glass']}").text.split('<table id="timeline">')[1].split("</table>")[0]
    assert glass.count("<tr>") == 3  # the header and two accesses
    assert "yes: unconscious in the ED" in glass and "yes, no reason given" in glass
    with web_vault.records.connect() as conn:
        read = conn.execute(select(EVENTS.c.role, EVENTS.c.purpose, EVENTS.c.outcome, EVENTS.c.patient_id)
                            .where(EVENTS.c.user_id == "privacy_officer", EVENTS.c.record_type == "access_reason")
                            ).all()
    assert [r[:3] for r in read] == [("privacy_officer", "HCOMPL", "success")] and read[0][3] is not None
    muller = client.get(f"/cases/{november['n.muller']}").text.split('<table id="timeline">')[1].split("</table>")[0]
    assert muller.count("another patient") == 1 and "<td>department</td>" in muller  # explained, in no finding


def test_a_viewer_sees_the_case_without_patients_evidence_or_forms(client, staff, clock, november, web_vault):
    sign_in(client, staff["viewer"], clock)
    page = client.get(f"/cases/{november['t.gone']}")
    assert page.status_code == 200 and "Your role reads no patient information" in page.text
    assert "P-OK" not in page.text and 'method="post" action="/cases' not in page.text
    assert "unconscious" not in client.get(f"/cases/{november['b.glass']}").text
    assert _staff_reads(web_vault, "viewer") == []


def test_case_forms_need_the_csrf_token_and_no_link_names_a_patient(client, staff, clock, november, web_vault):
    import re

    sign_in(client, staff["privacy_officer"], clock)
    case_id = november["n.muller"]
    assert client.post(f"/cases/{case_id}/review", data={"csrf_token": "forged"}).status_code == 403
    with web_vault.records.connect() as conn:
        assert conn.scalar(select(Case.status).where(Case.id == case_id)) == "open"
    for url in ("/cases", f"/cases/{case_id}", "/cases?status=any&severity=high"):
        html = client.get(url).text
        assert "P-VIP" in html or url != f"/cases/{case_id}"  # the page shows the patient...
        links = re.findall(r'(?:href|action)="([^"]*)"', html)
        assert links and not [u for u in links if "P-" in u or "Star" in u]  # ...no link names one


def test_the_site_s_policies_given_to_the_app_set_its_review_budget(web_vault, clock, staff, november, tmp_path):
    """`auditor serve --site-policies DIR`: the queue takes the site's cases.yaml, as `cases list` does."""
    from starlette.testclient import TestClient

    from auditor.web.app import create_app

    site = tmp_path / "site-policies"
    site.mkdir()
    (site / "cases.yaml").write_text("id: cases\nversion: 1\noverdue_after_days: 30\nreview_budget: 2\n", encoding="utf-8")
    with TestClient(create_app(web_vault, clock=clock, site_policies=site), follow_redirects=False) as client:
        sign_in(client, staff["investigator"], clock)
        page = client.get("/cases")
    assert _queue_users(page.text) == ["t.gone", "n.muller", "b.glass", "c.coder"]
    assert "The office reviews 2 cases a month" in page.text and "All 4 of these cases" not in page.text
    assert page.text.count("(past the budget)") == 2

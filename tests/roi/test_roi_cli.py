"""Each requester type walked end to end through `auditor roi`, the packets and the accounting read
back from their PDFs, and bad input refused with one line, exit 2 and nothing changed."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pypdf
import pytest
from sqlalchemy import func, select, text

from auditor.audit.schema import AuditEventRow

audit_events = AuditEventRow.__table__
from auditor.vault.records import (Disclosure, ReleaseAuthorization, ReleaseRequest, ReleaseRequestHistory)

TABLES = (ReleaseRequest, ReleaseRequestHistory, ReleaseAuthorization, Disclosure)
# requester type -> (extra request options, permission forms, accountable under 164.528(a))
WALKS = {
    "patient": ([], [], False),
    "personal_representative": ([], [], False),
    "third_party": ([], [{}], False),
    "attorney": (["--legal-process", "subpoena"],
                 [{"kind": "assurance", "assurance_type": "qualified protective order", "signed_on": "2026-10-30"}], True),
    "law_enforcement": ([], [], True),
    "public_health": ([], [], True),
    "provider": ([], [], False),
    "insurer": ([], [], False),
}


def pdf_text(path) -> str:
    """The PDF's text with line breaks of table cells folded into spaces."""
    return " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(path).pages).split())


def snapshot(vault) -> tuple:
    with vault.records.connect() as conn:
        counts = tuple(conn.scalar(select(func.count()).select_from(t)) for t in TABLES)
        return counts + (conn.scalar(select(func.count()).select_from(audit_events)),
                         tuple(conn.execute(select(ReleaseRequest.status, ReleaseRequest.due_on)).all()))


def new_request(run, requester_type, *extra, mrn="P-1", received="2026-11-20", types="lab,condition,note"):
    code, out, err = run("roi", "request", "--mrn", mrn, "--requester-type", requester_type,
                         "--name", f"Recipient {requester_type}", "--address", "1 Policy Way, Boston",
                         "--received", received, "--types", types, *extra)
    assert code == 0, err
    return int(out.strip())


def walk(run, form, tmp_path, requester_type):
    extra, permissions, _ = WALKS[requester_type]
    rid = new_request(run, requester_type, *extra)
    assert run("roi", "review", rid)[0] == 0
    for i, overrides in enumerate(permissions):
        path = form(f"p{i}.yaml", **overrides) if "kind" not in overrides else _raw(tmp_path, i, overrides)
        code, out, err = run("roi", "authorize", rid, "--form", path)
        assert code == 0, err
    code, out, err = run("roi", "fulfill", rid, "--out", tmp_path / f"packet-{rid}")
    assert code == 0, err
    assert run("roi", "close", rid)[0] == 0
    return rid, out


def _raw(tmp_path, i, doc):
    import yaml
    path = tmp_path / f"raw{i}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("requester_type", sorted(WALKS))
def test_each_requester_type_end_to_end(run, form, home, tmp_path, requester_type):
    rid, out = walk(run, form, tmp_path, requester_type)
    text_ = pdf_text(tmp_path / f"packet-{rid}" / "release-packet.pdf")
    assert "Release of information" in text_ and "Recipient" in text_ and "Invoice" in text_
    assert "Hypertension" in text_ and "Lipid panel" in text_  # general records asked for
    assert "private words" not in text_  # psychotherapy notes: never by right of access, else their own authorization
    access = requester_type in ("patient", "personal_representative")
    assert ("methadone" in text_) == access  # substance use: the patient's own, else a Part 2 consent
    assert ("6.50" in text_) == access  # the flat electronic fee, for right of access only
    assert "search" not in text_.lower().replace("no search or retrieval fee", "")
    with home.records.connect() as conn:
        history = conn.execute(select(ReleaseRequestHistory.action).where(ReleaseRequestHistory.request_id == rid)
                               .order_by(ReleaseRequestHistory.position)).scalars().all()
        acted = set(conn.execute(select(ReleaseRequestHistory.by).where(ReleaseRequestHistory.request_id == rid)).scalars())
        disclosure = conn.execute(select(Disclosure.accountable, Disclosure.exemption, Disclosure.recipient)
                                      .where(Disclosure.request_id == rid)).one()
        events = conn.execute(select(audit_events.c.action, audit_events.c.purpose, audit_events.c.fields)
                              .where(audit_events.c.record_id == str(rid), audit_events.c.record_type == "roi_request",
                                     audit_events.c.user_id == "svc:roi")).all()
    assert history[0] == "received" and history[1] == "in_review" and history[-2:] == ["fulfilled", "closed"]
    assert acted == {"coordinator"}  # the signed-in account, every step
    assert history[-3] in ("approved", "partly_approved")
    assert disclosure.accountable == WALKS[requester_type][2]
    assert (disclosure.exemption is None) == disclosure.accountable
    assert b"Recipient" not in bytes(disclosure.recipient)  # sealed
    disclosed = [e for e in events if e.action == "disclose"]
    assert len(disclosed) == 1 and disclosed[0].purpose not in (None, "HOPERAT")
    assert len([e for e in events if e.action in ("create", "update")]) >= len(history)


def test_accounting_holds_exactly_the_accountable_disclosures(run, form, home, tmp_path):
    for requester_type in sorted(WALKS):
        walk(run, form, tmp_path, requester_type)
    walk(run, form, tmp_path, "law_enforcement")  # a second one to the same recipient and purpose
    code, out, err = run("roi", "accounting", "--mrn", "P-1", "--out", tmp_path / "acc")
    assert code == 0, err
    assert out.startswith("3 entries; 0 suspended")
    text_ = pdf_text(tmp_path / "acc" / "accounting.pdf")
    assert "Accounting of disclosures" in text_
    for shown in ("Recipient attorney", "Recipient law_enforcement", "Recipient public_health"):
        assert shown in text_
    for left_out in ("Recipient patient", "Recipient third_party", "Recipient provider", "Recipient insurer",
                     "Recipient personal_representative"):
        assert left_out not in text_
    assert "2 disclosures, the last on" in text_ and "law enforcement; 45 CFR 164.512(f)" in text_
    assert (tmp_path / "acc" / "accounting.pdf").stat().st_mode & 0o777 == 0o600
    code, out, err = run("roi", "suspend", "--mrn", "P-1", "--agency", "Recipient law_enforcement",
                         "--from", "2026-11-01", "--to", "2027-06-30", "--written")
    assert code == 0, err
    code, out, err = run("roi", "accounting", "--mrn", "P-1", "--out", tmp_path / "acc2", "--no-pdf")
    assert out.startswith("2 entries; 2 suspended")
    assert "Recipient law_enforcement" not in (tmp_path / "acc2" / "accounting.html").read_text()
    # the suspension holds through its last day and no longer (164.528(a)(2)), whatever day the tests run
    last_day = run("roi", "accounting", "--mrn", "P-1", "--out", tmp_path / "acc3", "--no-pdf",
                   on=datetime(2027, 6, 30, 23, 59, tzinfo=timezone.utc))
    day_after = run("roi", "accounting", "--mrn", "P-1", "--out", tmp_path / "acc4", "--no-pdf",
                    on=datetime(2027, 7, 1, 0, 1, tzinfo=timezone.utc))
    assert last_day[1].startswith("2 entries; 2 suspended") and day_after[1].startswith("3 entries; 0 suspended")
    code, _, err = run("roi", "suspend", "--mrn", "P-1", "--agency", "FBI", "--from", "2026-11-01",
                       "--to", "2027-01-31")
    assert code == 2 and "at most 30 days" in err


def test_minimum_necessary_types_and_dates(run, home, tmp_path):
    rid = new_request(run, "provider", "--from", "2026-03-01", "--to", "2026-03-31", types="condition")
    run("roi", "review", rid)
    code, out, err = run("roi", "fulfill", rid, "--out", tmp_path / "p")
    assert code == 0 and "1 document(s)" in out
    text_ = pdf_text(tmp_path / "p" / "release-packet.pdf")
    assert "Hypertension" in text_ and "Old fracture" not in text_ and "Lipid panel" not in text_


def test_electronic_request_gets_a_valid_fhir_r4_bundle(run, home, tmp_path):
    rid = new_request(run, "patient", "--format", "fhir")
    run("roi", "review", rid)
    code, out, err = run("roi", "fulfill", rid, "--out", tmp_path / "p")
    assert code == 0, err
    bundle = json.loads((tmp_path / "p" / "bundle.json").read_text())
    from fhir.resources.R4B.bundle import Bundle

    assert Bundle.model_validate(bundle).type == "collection"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[0] == "Patient" and kinds.count("DocumentReference") == 5  # 3 general, substance use, HIV
    labels = [c["code"] for e in bundle["entry"] for s in e["resource"].get("securityLabel", []) for c in s["coding"]]
    assert sorted(labels) == ["42CFRPart2", "HIV"]


def test_part2_notice_goes_with_substance_use_records(run, form, home, tmp_path):
    rid = new_request(run, "third_party")
    run("roi", "review", rid)
    run("roi", "authorize", rid, "--form", form())
    consent = form("consent.yaml", kind="part2_consent", covers=["substance_use"], patient_name="Zoë Müller")
    assert run("roi", "authorize", rid, "--form", consent)[0] == 0
    code, out, err = run("roi", "fulfill", rid, "--out", tmp_path / "p")
    assert code == 0, err
    text_ = pdf_text(tmp_path / "p" / "release-packet.pdf")
    assert "methadone" in text_ and "42 CFR part 2 prohibits unauthorized use or disclosure of these records." in text_
    assert "Permissions relied on" in text_ and "part2 consent substance use" in text_


def test_denial_letter_and_no_fulfilment_after_it(run, home, tmp_path):
    rid = new_request(run, "patient")
    run("roi", "review", rid)
    code, out, err = run("roi", "deny", rid, "--basis", "danger", "--contact", "Privacy Office, 617-555-0100",
                         "--out", tmp_path / "d")
    assert code == 0, err
    text_ = pdf_text(tmp_path / "d" / "denial-letter.pdf")
    for needed in ("Basis for the denial", "164.524(a)(3)(i)", "licensed health care professional",
                   "Office for Civil Rights", "Privacy Office, 617-555-0100"):
        assert needed in text_
    before = snapshot(home)
    code, out, err = run("roi", "fulfill", rid, "--out", tmp_path / "x")
    assert code == 2 and err.count("\n") == 1 and "denied" in err
    assert snapshot(home) == before and not (tmp_path / "x").exists()


def test_bad_input_is_one_line_exit_2_and_changes_nothing(run, form, home, tmp_path):
    rid = new_request(run, "third_party")
    run("roi", "review", rid)
    assert run("roi", "extend", rid, "--notice-on", "2026-11-25", "--reason", "records off site")[0] == 2
    access = new_request(run, "patient")
    code, out, err = run("roi", "extend", access, "--notice-on", "2026-11-25", "--reason", "records off site")
    assert code == 0 and "due 2027-01-19" in out
    before = snapshot(home)
    refusals = {
        "unknown patient": (["roi", "request", "--mrn", "P-404", "--requester-type", "patient", "--name", "N",
                             "--address", "A"], "no patient with that MRN"),
        "expired authorization": (["roi", "authorize", rid, "--form", form("expired.yaml", expires_on="2025-01-01")],
                                  "expired on 2025-01-01"),
        "missing elements": (["roi", "authorize", rid, "--form", form("missing.yaml", signature=None, statement_redisclosure=None)], "signature"),
        "second extension": (["roi", "extend", access, "--notice-on", "2026-11-26", "--reason", "again"],
                             "only one extension"),
        "fulfil without authorization": (["roi", "fulfill", rid, "--out", tmp_path / "x"],
                                         "no valid authorization"),
        "unknown request": (["roi", "review", "999"], "no release request 999"),
        "bad date": (["roi", "queue", "--as-of", "tomorrow"], "not a YYYY-MM-DD date"),
    }
    for what, (args, message) in refusals.items():
        code, out, err = run(*args)
        assert code == 2 and err.count("\n") == 1 and message in err, (what, err)
        assert "P-404" not in err
    assert "statement_redisclosure" in run(*refusals["missing elements"][0])[2]
    assert snapshot(home) == before


def test_queue_lists_due_and_overdue(run, home):
    late = new_request(run, "patient", received="2026-10-01")
    soon = new_request(run, "patient", received="2026-11-01")
    later = new_request(run, "patient", "--accounting", received="2026-11-20")
    code, out, err = run("roi", "queue", "--as-of", "2026-11-27", "--format", "json")
    assert code == 0, err
    rows = {r["request_id"]: r for r in json.loads(out)}
    assert rows[late]["standing"] == "overdue" and rows[late]["due_on"] == "2026-10-31"
    assert rows[soon]["standing"] == "due" and rows[soon]["days_left"] == 4
    assert rows[later]["standing"] == "open" and rows[later]["kind"] == "accounting" and rows[later]["due_on"] == "2027-01-19"
    code, out, err = run("roi", "queue", "--as-of", "2026-11-27")
    assert "1 overdue, 1 due within 7 days, 3 open" in out


def test_history_and_ledger_are_append_only(run, home, tmp_path):
    rid = new_request(run, "public_health")
    run("roi", "review", rid)
    assert run("roi", "fulfill", rid, "--out", tmp_path / "p")[0] == 0
    for statement in ("UPDATE roi_request_history SET at = 0", "DELETE FROM roi_request_history",
                      "UPDATE disclosures SET accountable = 0", "DELETE FROM disclosures"):
        with pytest.raises(Exception, match="append-only"):
            with home.records.begin() as conn:
                conn.execute(text(statement))
    code, out, err = run("audit", "verify")
    assert code == 0, err


@pytest.mark.parametrize("command", ["request", "review", "authorize", "fulfill", "deny", "extend", "close", "queue",
                                     "accounting", "suspend"])
def test_every_command_has_help(run, command):
    code, out, err = run("roi", command, "--help")
    assert code == 0 and "Usage: auditor roi" in out and "--" in out


def test_an_accounting_request_is_answered_by_the_accounting(run, form, home, tmp_path):
    walk(run, form, tmp_path, "public_health")
    rid = new_request(run, "patient", "--accounting")
    code, out, err = run("roi", "fulfill", rid, "--out", tmp_path / "x")
    assert code == 2 and "auditor roi accounting" in err
    code, out, err = run("roi", "accounting", "--mrn", "P-1", "--out", tmp_path / "a", "--request", rid)
    assert code == 2 and "start the review first" in err and not (tmp_path / "a").exists()
    run("roi", "review", rid)
    code, out, err = run("roi", "accounting", "--mrn", "P-2", "--out", tmp_path / "a", "--request", rid)
    assert code == 2 and "not this patient's request" in err
    code, out, err = run("roi", "accounting", "--mrn", "P-1", "--out", tmp_path / "a", "--request", rid,
                         "--no-pdf")
    assert code == 0 and out.startswith("1 entry; 0 suspended"), err
    with home.records.connect() as conn:
        assert conn.scalar(select(ReleaseRequest.status).where(ReleaseRequest.id == rid)) == "fulfilled"


def test_waiting_for_information_and_back(run, home):
    rid = new_request(run, "third_party")
    assert run("roi", "review", rid)[1].strip() == f"request {rid}: in_review"
    code, out, err = run("roi", "review", rid, "--waiting-for", "the signed form's second page")
    assert code == 0 and "waiting_for_information" in out
    code, out, err = run("roi", "close", rid)
    assert code == 2 and "can move to denied, in_review, not closed" in err
    assert run("roi", "review", rid)[1].strip() == f"request {rid}: in_review"
    with home.records.connect() as conn:
        notes = conn.execute(select(ReleaseRequestHistory.note).where(ReleaseRequestHistory.request_id == rid)
                             ).scalars().all()
    assert sum(n is not None for n in notes) == 1 and all(b"second page" not in bytes(n) for n in notes if n)
